using System.Globalization;
using Cluster.Grains.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace Cluster.Grains.Storage;

/// <summary>
/// Grain storage in Redis whose every write is one script: the state (refused when another writer got there
/// first), the events of the state's <see cref="Outbox"/> appended to their topics in the stream provider's
/// entry format (<see cref="RedisStreamEntryFormat"/>) and, where asked, to a history list with their ids, and the
/// outbox's index changes. So no event is lost or
/// invented when a silo dies between writing a transition and publishing it, and a transition costs one round
/// trip. The state is a hash <c>{ServiceId}/state/{grainId}</c> of a version number <c>v</c> (the ETag) and the
/// state <c>d</c> in Orleans' binary serialization.
/// </summary>
public sealed partial class OutboxGrainStorage(
    string name, OutboxStorageOptions options, IServiceProvider services, Serializer serializer,
    IOptions<ClusterOptions> cluster, ILogger<OutboxGrainStorage> logger) : IGrainStorage
{
    private const string WriteScript = """
        local version = redis.call('HGET', KEYS[1], 'v')
        if (version or '') ~= ARGV[1] then return redis.error_reply('VERSION_CONFLICT stored version ' .. (version or 'none')) end
        local events = tonumber(ARGV[4])
        local i = 6 + events * 5
        local allowed = { ZADD = true, ZREM = true, SET = true, DEL = true, HSET = true, HDEL = true, INCRBY = true, PEXPIRE = true }
        local j = i + 1
        for _ = 1, tonumber(ARGV[i]) do
          if not allowed[ARGV[j + 1]] then return redis.error_reply('ERR the outbox may not run ' .. ARGV[j + 1]) end
          j = j + tonumber(ARGV[j]) + 1
        end
        local written = (tonumber(version) or 0) + 1
        redis.call('HSET', KEYS[1], 'v', written, 'd', ARGV[2])
        local ids = { tostring(written) }
        local e = 6
        for _ = 1, events do
          local id
          if ARGV[3] == '0' then
            id = redis.call('XADD', ARGV[e], '*', 's', ARGV[e + 1], 'd', ARGV[e + 2])
          else
            id = redis.call('XADD', ARGV[e], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[e + 1], 'd', ARGV[e + 2])
          end
          ids[#ids + 1] = id
          if ARGV[e + 3] ~= '' then
            redis.call('RPUSH', ARGV[e + 3], id .. ' ' .. ARGV[e + 4])
            redis.call('LTRIM', ARGV[e + 3], -tonumber(ARGV[5]), -1)
          end
          e = e + 5
        end
        j = i + 1
        for _ = 1, tonumber(ARGV[i]) do
          local argc = tonumber(ARGV[j])
          redis.call(unpack(ARGV, j + 1, j + argc))
          j = j + argc + 1
        end
        return ids
        """;

    private const string ClearScript = """
        local version = redis.call('HGET', KEYS[1], 'v')
        if (version or '') ~= ARGV[1] then return redis.error_reply('VERSION_CONFLICT stored version ' .. (version or 'none')) end
        redis.call('DEL', KEYS[1])
        return 'OK'
        """;

    private readonly string _keyPrefix = cluster.Value.ServiceId + "/state/";
    private RedisStreamOptions? _streams;
    private IDatabase? _database;

    private IDatabase Database => _database ??= services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

    private RedisStreamOptions Streams => _streams ??= services.GetRequiredService<IOptionsMonitor<RedisStreamOptions>>().Get(options.StreamProvider);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var stored = await Database.HashGetAsync(Key(grainId), ["v", "d"]).ConfigureAwait(false);
        if (stored[0].IsNull)
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Activator.CreateInstance<T>();
            return;
        }
        grainState.State = serializer.Deserialize<T>((ReadOnlyMemory<byte>)stored[1]);
        grainState.ETag = stored[0];
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var outbox = (grainState.State as IOutboxState)?.Outbox;
        var args = new List<RedisValue>(8)
        {
            grainState.ETag ?? "",
            serializer.SerializeToArray(grainState.State),
            Streams.MaxLength ?? 0,
            outbox?.Events.Count ?? 0,
            Outbox.HistoryLength,
        };
        foreach (var e in outbox?.Events ?? [])
        {
            args.Add(StreamKey(e.Topic));
            args.Add(RedisStreamEntryFormat.EncodeStreamId(StreamId.Create(e.Topic, e.Key)));
            args.Add(RedisStreamEntryFormat.EncodeEvents([e.Event], serializer));
            args.Add(e.HistoryKey ?? "");
            args.Add(e.HistoryText ?? "");
        }
        args.Add(outbox?.Commands.Count ?? 0);
        foreach (var command in outbox?.Commands ?? [])
        {
            args.Add(command.Length);
            args.AddRange(command);
        }

        RedisResult reply;
        try
        {
            reply = await Database.ScriptEvaluateAsync(WriteScript, [Key(grainId)], [.. args]).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("VERSION_CONFLICT", StringComparison.Ordinal))
        {
            // Without the inner exception: the caller may be across the network, and Redis's exception type has no codec.
            throw new InconsistentStateException($"{name}: {grainId} was written by another activation ({e.Message}); this one read version {grainState.ETag ?? "none"}");
        }
        var ids = (RedisResult[])reply!;
        grainState.ETag = ids[0].ToString();
        grainState.RecordExists = true;
        if (outbox is not null)
        {
            outbox.Clear();
            outbox.Published = [.. ids.Skip(1).Select(id => id.ToString())];
        }
        if (ids.Length > 1) LogWritten(grainId, ids.Length - 1);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        try
        {
            await Database.ScriptEvaluateAsync(ClearScript, [Key(grainId)], [grainState.ETag ?? ""]).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("VERSION_CONFLICT", StringComparison.Ordinal))
        {
            throw new InconsistentStateException($"{name}: {grainId} was written by another activation ({e.Message})");
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    /// <summary>The Redis key of a grain's state.</summary>
    public RedisKey Key(GrainId grainId) => _keyPrefix + grainId.ToString();

    private string StreamKey(string topic) =>
        Streams.Topics.Contains(topic)
            ? string.Create(CultureInfo.InvariantCulture, $"{Streams.KeyPrefix}:{topic}")
            : throw new ArgumentException($"'{topic}' is not a topic of stream provider '{options.StreamProvider}' ({string.Join(", ", Streams.Topics)})", nameof(topic));

    [LoggerMessage(Level = LogLevel.Trace, Message = "Wrote {GrainId} with {Events} events")]
    private partial void LogWritten(GrainId grainId, int events);
}

/// <summary>Options of an <see cref="OutboxGrainStorage"/>.</summary>
public sealed class OutboxStorageOptions
{
    /// <summary>The Redis stream provider whose topics the outbox's events go to (its key prefix and cap apply).</summary>
    public string StreamProvider { get; set; } = "events";
}
