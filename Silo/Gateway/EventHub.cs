using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Streams;
using StackExchange.Redis;

namespace Cluster.Silo.Gateway;

/// <summary>
/// The silo's fan-out of event streams to its WebSocket subscribers: each stream is read once per silo,
/// however many clients follow it, and each event is serialized once, however many subscribers receive it.
/// </summary>
public sealed partial class EventHub(StreamTails tails, IConnectionMultiplexer redis, ILogger<EventHub> logger)
{
    private const int ReplayPage = 500;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, GatewaySubscription[]> _byTopic = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IDisposable> _feeds = new(StringComparer.Ordinal);

    public int SubscriberCount
    {
        get { lock (_gate) return _byTopic.Values.Sum(s => s.Length); }
    }

    /// <summary>
    /// Attaches a subscription to its stream's tail once the tail knows where it starts: every event appended after this
    /// returns reaches the subscription, held until <see cref="GatewaySubscription.Release"/> or <see cref="ReplayAsync"/>.
    /// </summary>
    public async Task AttachAsync(GatewaySubscription subscription, CancellationToken cancellationToken)
    {
        var tail = tails[GatewayTopics.Streams[subscription.Topic]];
        lock (_gate)
        {
            if (!_feeds.ContainsKey(subscription.Topic))
            {
                var topic = subscription.Topic;
                _feeds[topic] = tail.Subscribe(batch => OnBatch(topic, batch));
            }
        }
        await tail.Started.WaitAsync(cancellationToken);
        lock (_gate) _byTopic[subscription.Topic] = [.. _byTopic.GetValueOrDefault(subscription.Topic, []), subscription];
    }

    /// <summary>Whether the stream has already trimmed events newer than <paramref name="since"/> (Redis 7 records the largest id it deleted).</summary>
    public async Task<bool> IsTrimmedAsync(string topic, string since, CancellationToken cancellationToken)
    {
        try
        {
            var info = await redis.GetDatabase().StreamInfoAsync(GatewayTopics.Streams[topic]).WaitAsync(cancellationToken);
            return !info.MaxDeletedEntryId.IsNull && StreamIds.Compare(info.MaxDeletedEntryId.ToString(), since) > 0;
        }
        catch (RedisServerException)
        {
            return false; // no such stream yet: nothing was trimmed
        }
    }

    public void Remove(GatewaySubscription subscription)
    {
        subscription.End();
        lock (_gate)
        {
            if (_byTopic.TryGetValue(subscription.Topic, out var list))
                _byTopic[subscription.Topic] = list.Where(s => s != subscription).ToArray();
        }
    }

    /// <summary>Delivers an attached subscription's history after <paramref name="since"/>, then releases its live feed.</summary>
    public async Task ReplayAsync(GatewaySubscription subscription, string since, CancellationToken cancellationToken)
    {
        var stream = GatewayTopics.Streams[subscription.Topic];
        string? last = null;
        var from = since == "0" ? "-" : "(" + since;
        var database = redis.GetDatabase();
        while (true)
        {
            var page = await database.StreamRangeAsync(stream, from, "+", ReplayPage).WaitAsync(cancellationToken);
            var events = StreamTail.Parse(stream, page);
            foreach (var e in events)
            {
                if (!subscription.Matches(e)) continue;
                await subscription.Connection.WaitForRoomAsync(cancellationToken);
                subscription.OnReplayed(e);
            }
            if (events.Count == 0) break;
            last = events[^1].Id;
            from = "(" + last;
            if (events.Count < ReplayPage) break;
        }
        subscription.Release(last ?? since);
    }

    private void OnBatch(string topic, IReadOnlyList<StreamEvent> batch)
    {
        GatewaySubscription[] subscribers;
        lock (_gate) subscribers = _byTopic.GetValueOrDefault(topic, []);
        if (subscribers.Length == 0) return;
        foreach (var e in batch)
        {
            byte[]? tail = null;
            byte[] Tail() => tail ??= GatewaySubscription.SerializeTail(e);
            foreach (var subscriber in subscribers)
            {
                try
                {
                    if (subscriber.Matches(e)) subscriber.OnLive(e, Tail);
                }
                catch (Exception failure)
                {
                    // One broken subscription must not cost the others their events.
                    LogSubscriberFailed(failure, subscriber.Id, e.Id);
                    Remove(subscriber);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Subscription {Subscription} failed on event {EventId} and was ended")]
    private partial void LogSubscriberFailed(Exception e, string subscription, string eventId);
}
