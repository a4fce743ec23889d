using System.IO.Hashing;
using System.Text;
using Orleans.Runtime;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>
/// One queue per topic: a stream goes to the queue of its namespace, and each queue is one Redis stream key
/// (<c>{prefix}:{topic}</c>). A namespace that is not a configured topic has no queue: publishing on it throws
/// <see cref="ArgumentException"/> rather than landing in some other topic's key. A topic left out of the read topics
/// keeps its queue for publishing, but no pulling agent is given it: nothing in the cluster subscribes to it.
/// </summary>
/// <remarks>
/// The pulling agents' default balancer (ConsistentRingQueueBalancer) gives each silo the queues whose hash falls in its
/// range of the consistent ring, so the mapper is an <see cref="IConsistentRingStreamQueueMapper"/>. A queue's hash is a
/// hash of its topic's name, not of its place in the list: silos agree on who reads a topic even while their topic
/// lists differ (say, during a rolling upgrade that adds one), and adding a topic moves no other.
/// </remarks>
internal sealed class TopicQueueMapper : IConsistentRingStreamQueueMapper
{
    private readonly Topic[] _topics;
    private readonly QueueId[] _readQueues;

    /// <param name="readTopics">The topics the pulling agents read; <see langword="null"/> for all of them.</param>
    public TopicQueueMapper(IEnumerable<string> topics, string keyPrefix, IEnumerable<string>? readTopics = null)
    {
        var names = Validate(topics, keyPrefix, readTopics);
        _topics = [.. names.Select(name => new Topic(
            name,
            Encoding.UTF8.GetBytes(name),
            QueueId.GetQueueId(name, 0, XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(name))),
            new RedisKey($"{keyPrefix}:{name}")))];
        var read = readTopics is null ? null : new HashSet<string>(readTopics, StringComparer.Ordinal);
        _readQueues = [.. _topics.Where(t => read is null || read.Contains(t.Name)).Select(t => t.Queue)];
    }

    /// <summary>Checks a topic list, its read topics and the key prefix; returns the topics.</summary>
    /// <exception cref="ArgumentException">Empty, duplicated or malformed topics, a read topic that is not a topic, or an empty prefix.</exception>
    public static IReadOnlyList<string> Validate(IEnumerable<string>? topics, string? keyPrefix, IEnumerable<string>? readTopics = null)
    {
        if (string.IsNullOrEmpty(keyPrefix)) throw new ArgumentException("KeyPrefix must not be empty.", nameof(keyPrefix));
        var names = topics?.ToArray() ?? [];
        if (names.Length == 0) throw new ArgumentException("Topics must name at least one topic.", nameof(topics));
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A topic must not be empty.", nameof(topics));
            if (name.Contains('/', StringComparison.Ordinal)) throw new ArgumentException($"Topic '{name}' contains '/', which separates a stream id's namespace from its key.", nameof(topics));
        }
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Topic '{duplicate.Key}' is listed twice.", nameof(topics));
        foreach (var read in readTopics ?? [])
            if (!names.Contains(read, StringComparer.Ordinal))
                throw new ArgumentException($"Read topic '{read}' is not one of the topics ({string.Join(", ", names)}).", nameof(readTopics));
        return names;
    }

    /// <summary>The queues the pulling agents share out: those of the read topics.</summary>
    public IEnumerable<QueueId> GetAllQueues() => _readQueues;

    public QueueId GetQueueForStream(StreamId streamId) => TopicOf(streamId).Queue;

    public IEnumerable<QueueId> GetQueuesForRange(IRingRange range)
    {
        ArgumentNullException.ThrowIfNull(range);
        return [.. _readQueues.Where(q => range.InRange(q.GetUniformHashCode()))];
    }

    /// <summary>The topic of a stream, by its namespace.</summary>
    /// <exception cref="ArgumentException">The namespace is not a configured topic.</exception>
    public Topic TopicOf(StreamId streamId)
    {
        var ns = streamId.Namespace.Span;
        foreach (var topic in _topics)
            if (ns.SequenceEqual(topic.Utf8Name)) return topic;
        throw new ArgumentException(
            $"Stream {streamId} is not on a topic of this provider: its namespace must be one of {string.Join(", ", _topics.Select(t => t.Name))}. " +
            "Each topic is one Redis stream; add the namespace to RedisStreamOptions.Topics on every silo to carry it.",
            nameof(streamId));
    }

    /// <summary>The topic of one of this mapper's queues.</summary>
    public Topic TopicOf(QueueId queue)
    {
        foreach (var topic in _topics)
            if (topic.Queue == queue) return topic;
        throw new ArgumentException($"Queue {queue} is not a topic of this provider.", nameof(queue));
    }

    public override string ToString() => $"topics {string.Join(", ", _topics.Select(t => $"{t.Name} ({t.Queue:H})"))}";

    internal sealed record Topic(string Name, byte[] Utf8Name, QueueId Queue, RedisKey Key);
}
