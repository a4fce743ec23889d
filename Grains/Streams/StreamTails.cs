using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cluster.Grains.Streams;

/// <summary>
/// The silo's tails of Redis streams, one per stream, created on first use, and the one loop that reads them all: a
/// single <c>XREAD COUNT … BLOCK … STREAMS</c> names every stream the silo follows, so however many streams and
/// subscribers a silo has, it keeps one read waiting in Redis.
/// </summary>
/// <remarks>
/// <para><b>Why a connection of its own.</b> A blocked command holds the connection it was sent on until it returns,
/// and StackExchange.Redis sends all of a multiplexer's commands down one connection: an <c>XREAD BLOCK</c> on the silo's
/// shared multiplexer would stall every grain, API and Orleans call behind it. The alternative, polling without BLOCK on
/// the shared multiplexer, adds up to a poll interval to the delivery of each event (the worker dispatcher and the /ws
/// gateway wait on these tails) or costs a round trip every few milliseconds when idle. So the tails read on one
/// dedicated multiplexer per silo, made from the shared one's configuration, on which this loop's read is the only
/// command: BLOCK (2 s) stays well under its timeout, and an idle silo costs Redis one XREAD every two seconds.</para>
/// <para><b>Following a new stream at once.</b> The read in flight names the streams followed when it was sent. When a
/// tail is added, it is ended early with <c>CLIENT UNBLOCK</c> (sent on the shared multiplexer, since the dedicated one is
/// busy with that very read), and the next read names the new stream. Where CLIENT is not allowed (an ACL), the new
/// stream is read from the next read on, within BLOCK; its tail started at the stream's end, so nothing is missed.</para>
/// </remarks>
public sealed partial class StreamTails(IConnectionMultiplexer redis, ILoggerFactory loggers) : IAsyncDisposable
{
    private const int BatchSize = 512;
    private static readonly TimeSpan Block = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentDictionary<string, StreamTail> _tails = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<StreamTails>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private StreamTail[] _followed = [];
    private long _generation; // bumped whenever _followed grows
    private long _reading = -1; // the generation of the streams the read in flight names; -1 between reads
    private long _clientId; // the reading connection's id in Redis, 0 until known
    private ConnectionMultiplexer? _reader;
    private Task? _loop;

    public StreamTail this[string stream] =>
        _tails.GetOrAdd(stream, s => new StreamTail(this, s, loggers.CreateLogger<StreamTail>()));

    /// <summary>Starts reading a tail's stream: from its current end, so that a subscriber sees everything appended after it subscribed.</summary>
    internal void Follow(StreamTail tail) => _ = FollowAsync(tail, _stop.Token);

    private async Task FollowAsync(StreamTail tail, CancellationToken cancellationToken)
    {
        try
        {
            tail.LastId = await CurrentEndAsync(tail.Stream, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        tail.MarkStarted();
        long generation;
        lock (_gate)
        {
            if (cancellationToken.IsCancellationRequested) return;
            _followed = [.. _followed, tail];
            generation = ++_generation;
            _loop ??= Task.Run(() => ReadAsync(cancellationToken));
        }
        await InterruptAsync(generation, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> CurrentEndAsync(string stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var last = await redis.GetDatabase().StreamRangeAsync(stream, count: 1, messageOrder: Order.Descending).WaitAsync(cancellationToken).ConfigureAwait(false);
                return last.Length == 0 ? "0-0" : last[0].Id.ToString();
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var delay = FirstRetryDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var reader = _reader ??= await ConnectReaderAsync().ConfigureAwait(false);
                var database = reader.GetDatabase();
                if (Volatile.Read(ref _clientId) == 0)
                    Volatile.Write(ref _clientId, (long)await database.ExecuteAsync("CLIENT", "ID").WaitAsync(cancellationToken).ConfigureAwait(false));

                StreamTail[] followed;
                lock (_gate)
                {
                    followed = _followed;
                    _reading = _generation;
                }
                RedisResult reply;
                try
                {
                    reply = await database.ExecuteAsync("XREAD", ReadArguments(followed)).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Volatile.Write(ref _reading, -1);
                }
                delay = FirstRetryDelay;
                if (!reply.IsNull) Deliver(reply);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                Volatile.Write(ref _clientId, 0); // a new connection has a new id
                LogReadFailed(e.Message, (long)delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private static object[] ReadArguments(StreamTail[] followed)
    {
        var args = new object[5 + followed.Length * 2];
        args[0] = "COUNT";
        args[1] = BatchSize;
        args[2] = "BLOCK";
        args[3] = (long)Block.TotalMilliseconds;
        args[4] = "STREAMS";
        for (var i = 0; i < followed.Length; i++)
        {
            args[5 + i] = (RedisKey)followed[i].Stream;
            args[5 + followed.Length + i] = followed[i].LastId;
        }
        return args;
    }

    /// <summary>Hands each stream's entries to its tail. Replies are RESP2 ([[stream, entries], …]) or, under RESP3, a map.</summary>
    private void Deliver(RedisResult reply)
    {
        var isMap = reply.Resp3Type == ResultType.Map;
        var step = isMap ? 2 : 1;
        for (var i = 0; i < reply.Length; i += step)
        {
            var (name, entries) = isMap ? (reply[i], reply[i + 1]) : (reply[i][0], reply[i][1]);
            var stream = name.ToString();
            if (!_tails.TryGetValue(stream, out var tail)) continue;
            var batch = StreamTail.Parse(stream, entries);
            if (batch.Count > 0) tail.Deliver(batch);
        }
    }

    private async Task<ConnectionMultiplexer> ConnectReaderAsync()
    {
        var options = ConfigurationOptions.Parse(redis.Configuration);
        options.ClientName = (options.ClientName ?? "cluster") + "-tails";
        options.AbortOnConnectFail = false;
        // The blocked read must never look like a timeout to the multiplexer.
        options.AsyncTimeout = Math.Max(options.AsyncTimeout, (int)(Block.TotalMilliseconds * 5));
        // Only this loop's reads go on it: no pub/sub connection.
        options.CommandMap = CommandMap.Create(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "SUBSCRIBE" }, available: false);
        var reader = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        reader.ConnectionRestored += (_, _) => Volatile.Write(ref _clientId, 0);
        return reader;
    }

    /// <summary>
    /// Ends the read in flight if it names fewer streams than generation <paramref name="generation"/> follows. CLIENT UNBLOCK
    /// finds nothing to end if the read was sent but Redis has not yet blocked on it, so it is tried again shortly.
    /// </summary>
    private async Task InterruptAsync(long generation, CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        for (var attempt = 0; attempt < 100 && !cancellationToken.IsCancellationRequested; attempt++)
        {
            var reading = Volatile.Read(ref _reading);
            var client = Volatile.Read(ref _clientId);
            if (reading < 0 || reading >= generation || client == 0) return;
            try
            {
                var unblocked = (long)await database.ExecuteAsync("CLIENT", "UNBLOCK", client.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                if (unblocked == 1) return;
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                LogUnblockFailed(e.Message, (long)Block.TotalMilliseconds);
                return;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_gate) loop = _loop;
        if (loop is not null)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        // Closing fails the read still blocked in Redis; nobody awaits it any more.
        if (_reader is not null) await _reader.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the event streams failed ({Reason}); retrying in {DelayMs} ms")]
    private partial void LogReadFailed(string reason, long delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CLIENT UNBLOCK failed ({Reason}): a stream this silo starts to follow is read within {BlockMs} ms instead of at once")]
    private partial void LogUnblockFailed(string reason, long blockMs);
}
