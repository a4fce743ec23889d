using Cluster.Grains.Interfaces.Streams;
using Orleans.Runtime;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>
/// How a batch of Orleans stream events is stored as one Redis stream entry: the single definition, used by the queue
/// adapter and by anything else that writes or reads the topic keys (the outbox storage's script that XADDs an event atomically
/// with a state write, a WebSocket gateway that resumes a client with XRANGE).
/// </summary>
/// <remarks>
/// <para>The entry goes to the topic's key <c>{prefix}:{topic}</c> (<see cref="RedisStreamOptions"/>), with an id that
/// Redis assigns (<c>XADD key MAXLEN ~ n * field value …</c>). That id orders the topic and is the event's public id
/// (<see cref="RedisStreamSequenceToken.EntryId"/>). Its fields, looked up by name:</para>
/// <list type="table">
/// <item><term><c>s</c></term><description>The Orleans stream id, UTF-8 <c>namespace/key</c>, the namespace being the
/// topic (<see cref="EncodeStreamId"/>). Required.</description></item>
/// <item><term><c>d</c></term><description>The batch's events, an <c>object?[]</c> (usually of one event) in Orleans'
/// binary serialization (<see cref="EncodeEvents{T}"/>). Required. Give event types an <c>[Alias]</c> so that renaming a
/// class does not orphan the entries already written.</description></item>
/// <item><term><c>c</c></term><description>The publisher's Orleans request context, a
/// <c>Dictionary&lt;string, object&gt;</c> in the same serialization (<see cref="EncodeRequestContext"/>). Absent when
/// empty, which is the common case.</description></item>
/// </list>
/// <para>A <see cref="TopicEvent"/>, the events the cluster's grains publish, is stored flat instead: a field <c>type</c>, then
/// the event's fields by name (empty ones left out), as the gateway protocol, webhooks and seed-era readers have always
/// read the topics. It is read back as a <see cref="TopicEvent"/> on the topic's one stream, <c>{topic}/all</c>
/// (<see cref="TopicStreamKey"/>): topics are never a stream per entity.</para>
/// <para>An entry with neither <c>s</c> and <c>d</c> nor <c>type</c> is not an event of this format: something else wrote
/// it, or it was trimmed (MAXLEN) while still pending in a consumer group, and Redis returns its id with no fields.</para>
/// </remarks>
public static class RedisStreamEntryFormat
{
    /// <summary>Name of the field holding the stream id.</summary>
    public const string StreamIdFieldName = "s";

    /// <summary>Name of the field holding the serialized events.</summary>
    public const string EventsFieldName = "d";

    /// <summary>Name of the optional field holding the serialized request context.</summary>
    public const string RequestContextFieldName = "c";

    /// <summary>Name of the field holding a flat <see cref="TopicEvent"/>'s type.</summary>
    public const string TopicEventTypeFieldName = "type";

    /// <summary>The key of the one Orleans stream of each topic, on which its <see cref="TopicEvent"/>s are read.</summary>
    public const string TopicStreamKey = "all";

    // Byte-backed, like the names in replies, so that comparing them allocates nothing.
    private static readonly RedisValue StreamIdField = "s"u8.ToArray();
    private static readonly RedisValue EventsField = "d"u8.ToArray();
    private static readonly RedisValue RequestContextField = "c"u8.ToArray();
    private static readonly RedisValue TypeField = "type"u8.ToArray();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, StreamId> TopicStreams = new(StringComparer.Ordinal);

    /// <summary>The fields of the entry for <paramref name="events"/> published on <paramref name="streamId"/>.</summary>
    public static NameValueEntry[] Encode<T>(StreamId streamId, IEnumerable<T> events, Dictionary<string, object>? requestContext, Serializer serializer)
    {
        var id = EncodeStreamId(streamId);
        var data = EncodeEvents(events, serializer);
        var context = EncodeRequestContext(requestContext, serializer);
        return context is null
            ? [new(StreamIdField, id), new(EventsField, data)]
            : [new(StreamIdField, id), new(EventsField, data), new(RequestContextField, context)];
    }

    /// <summary>How many values <see cref="EncodeFields"/> writes for <paramref name="event"/>: each field's name and value.</summary>
    public static int FieldValueCount(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        if (@event is not TopicEvent topicEvent) return 4;
        var count = 2;
        foreach (var (name, value) in topicEvent.Fields)
            if (IsFlatField(name, value)) count += 2;
        return count;
    }

    /// <summary>
    /// Writes the fields of the entry for one event published on <c>{topic}/{key}</c>, name then value, into
    /// <paramref name="into"/> and returns how many values it wrote (<see cref="FieldValueCount"/>): flat for a
    /// <see cref="TopicEvent"/>, else <c>s</c> and <c>d</c>. What a script that XADDs the event beside a state write passes on.
    /// </summary>
    public static int EncodeFields(string topic, string key, object @event, Serializer serializer, Span<RedisValue> into)
    {
        ArgumentNullException.ThrowIfNull(@event);
        if (@event is TopicEvent topicEvent)
        {
            into[0] = TopicEventTypeFieldName;
            into[1] = topicEvent.Type;
            var i = 2;
            foreach (var (name, value) in topicEvent.Fields)
            {
                if (!IsFlatField(name, value)) continue;
                into[i++] = name;
                into[i++] = value;
            }
            return i;
        }
        into[0] = StreamIdField;
        into[1] = EncodeStreamId(StreamId.Create(topic, key));
        into[2] = EventsField;
        into[3] = EncodeEvents([@event], serializer);
        return 4;
    }

    private static bool IsFlatField(string name, string value) => !string.IsNullOrEmpty(value) && name != TopicEventTypeFieldName;

    /// <summary>The <c>s</c> field: <c>namespace/key</c> in UTF-8, as <see cref="StreamId.Parse"/> reads it.</summary>
    /// <exception cref="ArgumentException">The stream id has no namespace, so no topic.</exception>
    public static byte[] EncodeStreamId(StreamId streamId)
    {
        var ns = streamId.Namespace.Span;
        if (ns.IsEmpty) throw new ArgumentException($"Stream {streamId} has no namespace, so no topic to be stored in.", nameof(streamId));
        var key = streamId.Key.Span;
        var bytes = new byte[ns.Length + 1 + key.Length];
        ns.CopyTo(bytes);
        bytes[ns.Length] = (byte)'/';
        key.CopyTo(bytes.AsSpan(ns.Length + 1));
        return bytes;
    }

    /// <summary>The <c>d</c> field: the events as an <c>object?[]</c> in Orleans' serialization.</summary>
    public static byte[] EncodeEvents<T>(IEnumerable<T> events, Serializer serializer)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(serializer);
        object?[] boxed;
        if (events is IReadOnlyList<T> list)
        {
            boxed = new object?[list.Count];
            for (var i = 0; i < boxed.Length; i++) boxed[i] = list[i];
        }
        else
        {
            boxed = [.. events.Select(static e => (object?)e)];
        }
        return serializer.SerializeToArray(boxed);
    }

    /// <summary>The <c>c</c> field, or <see langword="null"/> when there is no context to carry.</summary>
    public static byte[]? EncodeRequestContext(Dictionary<string, object>? requestContext, Serializer serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        return requestContext is null || requestContext.Count == 0 ? null : serializer.SerializeToArray(requestContext);
    }

    /// <summary>
    /// Reads an entry of this format. Returns <see langword="false"/> when the entry has no <c>s</c> and <c>d</c> fields
    /// (not ours, or trimmed while pending); throws when they are there but cannot be read, for instance an event type
    /// that this process does not know.
    /// </summary>
    /// <param name="entry">The entry, as XREADGROUP, XREAD or XRANGE returned it.</param>
    /// <param name="serializer">Orleans' serializer.</param>
    /// <param name="decoded">The stream id, the events with the entry's token, and the request context.</param>
    /// <param name="knownStreamId">
    /// A stream id the caller already holds: when the entry is of that stream, this instance is returned instead of a new
    /// one (a topic carries few stream ids, so a reader saves an allocation and a hash per entry).
    /// </param>
    /// <param name="topic">The topic whose key the entry was read from: a flat entry is a <see cref="TopicEvent"/> of it.</param>
    public static bool TryDecode(StreamEntry entry, Serializer serializer, out RedisStreamEvent decoded, StreamId? knownStreamId = null, string? topic = null)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        decoded = default;
        RedisValue id = RedisValue.Null, data = RedisValue.Null, context = RedisValue.Null, type = RedisValue.Null;
        foreach (var field in entry.Values ?? [])
        {
            if (field.Name == StreamIdField) id = field.Value;
            else if (field.Name == EventsField) data = field.Value;
            else if (field.Name == RequestContextField) context = field.Value;
            else if (field.Name == TypeField) type = field.Value;
        }
        if (id.IsNull || data.IsNull)
        {
            if (type.IsNull || topic is null) return false;
            var topicStream = TopicStreams.GetOrAdd(topic, static t => StreamId.Create(t, TopicStreamKey));
            decoded = new RedisStreamEvent(topicStream, RedisStreamSequenceToken.Parse(entry.Id), [DecodeTopicEvent(entry)], null);
            return true;
        }

        var streamId = DecodeStreamId(((ReadOnlyMemory<byte>)id).Span, knownStreamId);
        var events = serializer.Deserialize<object?[]>((ReadOnlyMemory<byte>)data) ?? [];
        var requestContext = context.IsNull ? null : serializer.Deserialize<Dictionary<string, object>>((ReadOnlyMemory<byte>)context);
        decoded = new RedisStreamEvent(streamId, RedisStreamSequenceToken.Parse(entry.Id), events, requestContext);
        return true;
    }

    /// <summary>A flat entry as the <see cref="TopicEvent"/> it stores.</summary>
    public static TopicEvent DecodeTopicEvent(StreamEntry entry)
    {
        var values = entry.Values ?? [];
        string type = "";
        var fields = new Dictionary<string, string>(values.Length, StringComparer.Ordinal);
        foreach (var field in values)
        {
            if (field.Name == TypeField) type = field.Value.ToString();
            else fields[field.Name.ToString()] = field.Value.ToString();
        }
        return new TopicEvent(type, fields);
    }

    private static StreamId DecodeStreamId(ReadOnlySpan<byte> text, StreamId? known)
    {
        if (known is { } k)
        {
            var ns = k.Namespace.Span;
            if (text.Length == k.FullKey.Length + 1 && text.StartsWith(ns) && text[ns.Length] == (byte)'/' && text[(ns.Length + 1)..].SequenceEqual(k.Key.Span))
                return k;
        }
        return StreamId.Parse(text);
    }
}

/// <summary>One decoded entry: the stream it was published on, its position (the first event's token), its events and the publisher's request context.</summary>
public readonly record struct RedisStreamEvent(StreamId StreamId, RedisStreamSequenceToken Token, object?[] Events, Dictionary<string, object>? RequestContext);
