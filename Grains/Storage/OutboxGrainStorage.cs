using System.Collections.Concurrent;
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
/// entry format (<see cref="RedisStreamEntryFormat"/>: a <see cref="Interfaces.Streams.TopicEvent"/> flat) and, where asked, to the
/// grain's history with their ids, and the outbox's index changes. So no event is lost or
/// invented when a silo dies between writing a transition and publishing it, and a transition costs one round
/// trip. The state is a hash <c>{ServiceId}/state/{grainId}</c> of a version number <c>v</c> (the ETag), the
/// state <c>d</c> in Orleans' binary serialization and the history's last entries <c>h{i}</c> with their count
/// <c>n</c>: fields of the hash the write sets anyway, rather than a list of its own that would cost each event
/// a command.
/// </summary>
public sealed partial class OutboxGrainStorage(
    string name, OutboxStorageOptions options, IServiceProvider services, Serializer serializer,
    IOptions<ClusterOptions> cluster, ILogger<OutboxGrainStorage> logger) : IGrainStorage
{
    // ARGV: version, state, stream cap (0: none), history length, command count, the commands (each its argument
    // count, then its arguments), event count, the events (each its key, field count, fields, history text or '').
    // The state hash holds v (version), d (state), n (history entries ever kept) and h{i} (entry i, the last ones).
    private const string WriteScript = """
        local stored = redis.call('HMGET', KEYS[1], 'v', 'n')
        local version = stored[1]
        if (version or '') ~= ARGV[1] then return redis.error_reply('VERSION_CONFLICT stored version ' .. (version or 'none')) end
        local allowed = { ZADD = true, ZREM = true, SET = true, DEL = true, HSET = true, HDEL = true, INCRBY = true, PEXPIRE = true }
        local commands = tonumber(ARGV[5])
        local j = 6
        for _ = 1, commands do
          if not allowed[ARGV[j + 1]] then return redis.error_reply('ERR the outbox may not run ' .. ARGV[j + 1]) end
          j = j + tonumber(ARGV[j]) + 1
        end
        local written = (tonumber(version) or 0) + 1
        local state = { 'HSET', KEYS[1], 'v', written, 'd', ARGV[2] }
        local ids = { tostring(written) }
        local kept, keep = tonumber(stored[2]) or 0, tonumber(ARGV[4])
        local trimmed = { 'HDEL', KEYS[1] }
        local e = j + 1
        for _ = 1, tonumber(ARGV[j]) do
          local fields = tonumber(ARGV[e + 1])
          local id
          if ARGV[3] ~= '0' then
            id = redis.call('XADD', ARGV[e], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, e + 2, e + 1 + fields))
          else
            id = redis.call('XADD', ARGV[e], '*', unpack(ARGV, e + 2, e + 1 + fields))
          end
          ids[#ids + 1] = id
          local history = ARGV[e + 2 + fields]
          if history ~= '' then
            kept = kept + 1
            state[#state + 1], state[#state + 2] = 'h' .. kept, id .. ' ' .. history
            if kept > keep then trimmed[#trimmed + 1] = 'h' .. (kept - keep) end
          end
          e = e + 3 + fields
        end
        if kept > 0 then state[#state + 1], state[#state + 2] = 'n', kept end
        redis.call(unpack(state))
        if #trimmed > 2 then redis.call(unpack(trimmed)) end
        j = 6
        for _ = 1, commands do
          local argc = tonumber(ARGV[j])
          if argc == 5 and ARGV[j + 1] == 'INCRBY' then
            local by = tonumber(ARGV[j + 3])
            if redis.call('INCRBY', ARGV[j + 2], by) == by then redis.call('PEXPIRE', ARGV[j + 2], ARGV[j + 5]) end
          else
            redis.call(unpack(ARGV, j + 1, j + argc))
          end
          j = j + argc + 1
        end
        return ids
        """;

    // KEYS: the state hash. ARGV: history length. The last entries of the history, oldest first.
    private const string HistoryScript = """
        local kept = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
        if kept == 0 then return {} end
        local fields = {}
        for i = math.max(1, kept - tonumber(ARGV[1]) + 1), kept do fields[#fields + 1] = 'h' .. i end
        return redis.call('HMGET', KEYS[1], unpack(fields))
        """;

    private const string ClearScript = """
        local version = redis.call('HGET', KEYS[1], 'v')
        if (version or '') ~= ARGV[1] then return redis.error_reply('VERSION_CONFLICT stored version ' .. (version or 'none')) end
        redis.call('DEL', KEYS[1])
        return 'OK'
        """;

    private readonly string _keyPrefix = cluster.Value.ServiceId + "/state/";
    private readonly ConcurrentDictionary<string, string> _streamKeys = new(StringComparer.Ordinal);
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
        IReadOnlyList<RedisValue[]> commands = outbox?.Commands ?? [];
        IReadOnlyList<OutboxEvent> events = outbox?.Events ?? [];
        // One array of the exact size: a transition's write passes some fifty values, three writes a job.
        var count = 6;
        foreach (var command in commands) count += 1 + command.Length;
        foreach (var e in events) count += 3 + RedisStreamEntryFormat.FieldValueCount(e.Event);
        var args = new RedisValue[count];
        var i = 0;
        args[i++] = grainState.ETag ?? "";
        args[i++] = serializer.SerializeToArray(grainState.State);
        args[i++] = Streams.MaxLength ?? 0;
        args[i++] = Outbox.HistoryLength;
        args[i++] = commands.Count;
        foreach (var command in commands)
        {
            args[i++] = command.Length;
            command.CopyTo(args, i);
            i += command.Length;
        }
        args[i++] = events.Count;
        foreach (var e in events)
        {
            args[i++] = StreamKey(e.Topic);
            var fields = RedisStreamEntryFormat.EncodeFields(e.Topic, e.Key, e.Event, serializer, args.AsSpan(i + 1));
            args[i] = fields;
            i += 1 + fields;
            args[i++] = e.History ?? "";
        }

        RedisResult reply;
        try
        {
            reply = await Database.ScriptEvaluateAsync(WriteScript, [Key(grainId)], args).ConfigureAwait(false);
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
            var published = new string[ids.Length - 1];
            for (var k = 1; k < ids.Length; k++) published[k - 1] = ids[k].ToString();
            outbox.Published = published;
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

    /// <summary>
    /// The history a grain's writes kept (<see cref="Outbox.Publish"/>), oldest first: its last
    /// <see cref="Outbox.HistoryLength"/> entries, each <c>"{event id} {text}"</c>.
    /// </summary>
    public async Task<string[]> ReadHistoryAsync(GrainId grainId)
    {
        var reply = await Database.ScriptEvaluateAsync(HistoryScript, [Key(grainId)], [Outbox.HistoryLength]).ConfigureAwait(false);
        var entries = (RedisResult[])reply!;
        var history = new List<string>(entries.Length);
        foreach (var entry in entries)
            if (!entry.IsNull) history.Add(entry.ToString());
        return [.. history];
    }

    /// <summary>The Redis key of a grain's state.</summary>
    public RedisKey Key(GrainId grainId) => _keyPrefix + grainId.ToString();

    private string StreamKey(string topic) => _streamKeys.GetOrAdd(topic, static (topic, storage) => storage.CreateStreamKey(topic), this);

    private string CreateStreamKey(string topic) =>
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
