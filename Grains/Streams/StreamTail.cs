using Cluster.Grains.Redis;
using Microsoft.Extensions.Logging;

namespace Cluster.Grains.Streams;

/// <summary>
/// Follows one Redis stream from a silo with a blocking XREAD on a connection of its own, and hands every
/// batch to the silo's local subscribers. However many subscribers a silo has, it reads each stream once.
/// </summary>
public sealed class StreamTail(IRedis redis, string stream, ILogger<StreamTail> logger) : IAsyncDisposable
{
    private const int BatchSize = 512;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Action<IReadOnlyList<StreamEvent>>[] _subscribers = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    /// <summary>
    /// Completes once the tail knows where it starts: every event appended after that is handed to subscribers.
    /// A subscriber that replays history waits for this first, so that replay and live feed leave no gap.
    /// </summary>
    public Task Started => _started.Task;

    public string Stream { get; } = stream;

    /// <summary>The id of the last event handed to subscribers.</summary>
    public string LastId { get; private set; } = "$";

    /// <summary>
    /// Adds a subscriber for events appended from now on. It is called on the tail's loop, so it must be
    /// quick and must not block: hand work to a queue of your own.
    /// </summary>
    public IDisposable Subscribe(Action<IReadOnlyList<StreamEvent>> onBatch)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers, onBatch];
            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }
        return new Subscription(this, onBatch);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // Start from the stream's current end so that a subscriber sees everything appended after it subscribed.
        LastId = await CurrentEndAsync(cancellationToken).ConfigureAwait(false);
        _started.TrySetResult();
        var delay = TimeSpan.FromMilliseconds(100);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var reply = await redis.ExecuteBlockingAsync("XREAD", ["COUNT", BatchSize, "BLOCK", 5000, "STREAMS", Stream, LastId], cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(100);
                if (reply.IsNull) continue;
                var batch = Parse(Stream, reply.Items[0].Items[1]);
                if (batch.Count == 0) continue;
                LastId = batch[^1].Id;
                foreach (var subscriber in _subscribers)
                {
                    try
                    {
                        subscriber(batch);
                    }
                    catch (Exception e)
                    {
                        logger.LogError(e, "A subscriber of {Stream} failed", Stream);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RedisException e)
            {
                logger.LogWarning("Reading {Stream} failed ({Message}); retrying in {Delay} ms", Stream, e.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task<string> CurrentEndAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var last = await redis.ExecuteAsync("XREVRANGE", [Stream, "+", "-", "COUNT", 1], cancellationToken).ConfigureAwait(false);
                return last.Items.Count == 0 ? "0-0" : last.Items[0].Items[0].ToString();
            }
            catch (RedisException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Turns an XRANGE/XREAD list of [id, [field, value, …]] entries into events.</summary>
    public static List<StreamEvent> Parse(string stream, RespValue entries)
    {
        var events = new List<StreamEvent>(entries.Items.Count);
        foreach (var entry in entries.Items)
        {
            var flat = entry.Items[1].Items;
            var fields = new Dictionary<string, string>(flat.Count / 2, StringComparer.Ordinal);
            for (var i = 0; i + 1 < flat.Count; i += 2) fields[flat[i].ToString()] = flat[i + 1].ToString();
            events.Add(new StreamEvent(stream, entry.Items[0].ToString(), fields));
        }
        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private sealed class Subscription(StreamTail tail, Action<IReadOnlyList<StreamEvent>> onBatch) : IDisposable
    {
        public void Dispose()
        {
            lock (tail._gate) tail._subscribers = tail._subscribers.Where(s => s != onBatch).ToArray();
        }
    }
}
