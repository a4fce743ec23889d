using StackExchange.Redis;

namespace Cluster.Grains.Storage;

/// <summary>
/// A grain state that publishes events and moves index entries with its writes. <see cref="OutboxGrainStorage"/>
/// writes the state, appends the outbox's events to their topics and applies its index changes in one Redis
/// script, then empties the outbox: a transition and its event are one durable step.
/// </summary>
public interface IOutboxState
{
    /// <summary>
    /// What the next write publishes. Not part of the stored state: back it with a <c>[NonSerialized]</c> field
    /// created on first use (<c>_outbox ??= new()</c>), since a deserialised state has not run field initialisers.
    /// </summary>
    Outbox Outbox { get; }
}

/// <summary>The events and index changes that go with a grain's next state write.</summary>
public sealed class Outbox
{
    private readonly List<OutboxEvent> _events = [];
    private readonly List<RedisValue[]> _commands = [];

    /// <summary>
    /// Publishes <paramref name="event"/> on the stream <c>{topic}/{key}</c> of the outbox storage's stream provider and,
    /// when <paramref name="history"/> is given, keeps <c>"{event id} {history}"</c> in the grain's history, which holds its
    /// last <see cref="HistoryLength"/> entries (<see cref="OutboxGrainStorage.ReadHistoryAsync"/>): an entity's own
    /// history, with the ids only Redis can give.
    /// </summary>
    public void Publish(string topic, string key, object @event, string? history = null) =>
        _events.Add(new OutboxEvent(topic, key, @event, history));

    /// <summary>How many entries a grain's history keeps.</summary>
    public const int HistoryLength = 200;

    /// <summary>Adds or moves <paramref name="member"/> in the sorted set <paramref name="key"/>.</summary>
    public void SortedSetAdd(string key, string member, double score) => _commands.Add(["ZADD", key, score, member]);

    public void SortedSetRemove(string key, string member) => _commands.Add(["ZREM", key, member]);

    /// <summary>Sets a string key, with an expiry when one is given.</summary>
    public void StringSet(string key, string value, TimeSpan? expiry = null) =>
        _commands.Add(expiry is { } e ? ["SET", key, value, "PX", (long)e.TotalMilliseconds] : ["SET", key, value]);

    public void KeyDelete(string key) => _commands.Add(["DEL", key]);

    public void HashSet(string key, string field, RedisValue value) => _commands.Add(["HSET", key, field, value]);

    public void HashDelete(string key, string field) => _commands.Add(["HDEL", key, field]);

    /// <summary>
    /// Adds <paramref name="by"/> to the integer at <paramref name="key"/>. With an <paramref name="expiry"/>, the
    /// increment that creates the key sets it (<c>INCRBY key by PX ms</c>, which the write script understands), so
    /// the later ones cost Redis no <c>PEXPIRE</c>.
    /// </summary>
    public void Increment(string key, long by = 1, TimeSpan? expiry = null) =>
        _commands.Add(expiry is { } e ? ["INCRBY", key, by, "PX", (long)e.TotalMilliseconds] : ["INCRBY", key, by]);

    public bool IsEmpty => _events.Count == 0 && _commands.Count == 0;

    /// <summary>The Redis stream ids of the events the last write published, in the order they were published.</summary>
    public IReadOnlyList<string> Published { get; internal set; } = [];

    internal IReadOnlyList<OutboxEvent> Events => _events;
    internal IReadOnlyList<RedisValue[]> Commands => _commands;

    internal void Clear()
    {
        _events.Clear();
        _commands.Clear();
    }
}

internal sealed record OutboxEvent(string Topic, string Key, object Event, string? History);
