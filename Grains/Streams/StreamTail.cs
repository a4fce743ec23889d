using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cluster.Grains.Streams;

/// <summary>
/// One Redis stream as this silo follows it: where the silo's reading of it stands, and its local subscribers, to
/// which every batch read is handed. <see cref="StreamTails"/> reads all of a silo's tails with one blocking read.
/// </summary>
public sealed partial class StreamTail
{
    private readonly StreamTails _owner;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<IReadOnlyList<StreamEvent>>[] _subscribers = [];
    private bool _following;

    internal StreamTail(StreamTails owner, string stream, ILogger logger)
    {
        _owner = owner;
        _logger = logger;
        Stream = stream;
    }

    /// <summary>
    /// Completes once the tail knows where it starts: every event appended after that is handed to subscribers.
    /// A subscriber that replays history waits for this first, so that replay and live feed leave no gap.
    /// </summary>
    public Task Started => _started.Task;

    public string Stream { get; }

    /// <summary>The id of the last event handed to subscribers; the next read asks for what follows it.</summary>
    internal string LastId { get; set; } = "$";

    /// <summary>
    /// Adds a subscriber for events appended from now on. It is called on the silo's stream-reading loop, so it must
    /// be quick and must not block: hand work to a queue of your own.
    /// </summary>
    public IDisposable Subscribe(Action<IReadOnlyList<StreamEvent>> onBatch)
    {
        bool first;
        lock (_gate)
        {
            _subscribers = [.. _subscribers, onBatch];
            first = !_following;
            _following = true;
        }
        if (first) _owner.Follow(this);
        return new Subscription(this, onBatch);
    }

    internal void MarkStarted() => _started.TrySetResult();

    internal void Deliver(IReadOnlyList<StreamEvent> batch)
    {
        LastId = batch[^1].Id;
        foreach (var subscriber in _subscribers)
        {
            try
            {
                subscriber(batch);
            }
            catch (Exception e)
            {
                LogSubscriberFailed(e, Stream);
            }
        }
    }

    /// <summary>Turns XRANGE or XREAD entries into events.</summary>
    public static List<StreamEvent> Parse(string stream, StackExchange.Redis.StreamEntry[] entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var events = new List<StreamEvent>(entries.Length);
        foreach (var entry in entries)
        {
            if (entry.IsNull) continue;
            var values = entry.Values;
            var fields = new Dictionary<string, string>(values.Length, StringComparer.Ordinal);
            foreach (var value in values) fields[value.Name.ToString()] = value.Value.ToString();
            events.Add(new StreamEvent(stream, entry.Id.ToString(), fields));
        }
        return events;
    }

    /// <summary>Turns the entries of a raw XREAD reply (a list of [id, [field, value, …]]) into events.</summary>
    internal static List<StreamEvent> Parse(string stream, RedisResult entries)
    {
        var events = new List<StreamEvent>(Math.Max(0, entries.Length));
        for (var e = 0; e < entries.Length; e++)
        {
            var entry = entries[e];
            var flat = entry[1];
            if (flat.IsNull) continue; // deleted while pending; XREAD does not return these, but be safe
            var fields = new Dictionary<string, string>(flat.Length / 2, StringComparer.Ordinal);
            for (var i = 0; i + 1 < flat.Length; i += 2) fields[flat[i].ToString()] = flat[i + 1].ToString();
            events.Add(new StreamEvent(stream, entry[0].ToString(), fields));
        }
        return events;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A subscriber of {Stream} failed")]
    private partial void LogSubscriberFailed(Exception e, string stream);

    private sealed class Subscription(StreamTail tail, Action<IReadOnlyList<StreamEvent>> onBatch) : IDisposable
    {
        public void Dispose()
        {
            lock (tail._gate) tail._subscribers = tail._subscribers.Where(s => s != onBatch).ToArray();
        }
    }
}
