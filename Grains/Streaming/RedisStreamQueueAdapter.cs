using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>Publishes stream events as entries of their topic's Redis stream, and makes the receivers that read them.</summary>
internal sealed class RedisStreamQueueAdapter(
    string name,
    TopicQueueMapper mapper,
    IDatabase database,
    Serializer serializer,
    RedisStreamOptions options,
    ILoggerFactory loggerFactory) : IQueueAdapter
{
    private readonly string _group = options.ConsumerGroup ?? name;
    private readonly ILogger _receiverLogger = loggerFactory.CreateLogger<RedisStreamQueueReceiver>();
    private readonly ConcurrentDictionary<QueueId, RedisStreamQueueReceiver> _receivers = new();

    public string Name => name;

    /// <summary>
    /// Subscribing from a past token works within what the owning silo's cache still holds (SimpleQueueCache); history
    /// beyond it is read from the topic's key with XRANGE.
    /// </summary>
    public bool IsRewindable => true;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    /// <summary>The topics that a pulling agent of this silo reads now.</summary>
    public IReadOnlyCollection<string> ReadingTopics => [.. _receivers.Keys.Select(q => mapper.TopicOf(q).Name)];

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        RedisStreamQueueReceiver? receiver = null;
        receiver = new RedisStreamQueueReceiver(database, serializer, mapper.TopicOf(queueId), _group, options.ReadBatchSize, _receiverLogger,
            onShutdown: () => _receivers.TryRemove(new(queueId, receiver!)));
        _receivers[queueId] = receiver;
        return receiver;
    }

    /// <summary>Adds one entry (<see cref="RedisStreamEntryFormat"/>) to the key of the stream's topic, capped at <see cref="RedisStreamOptions.MaxLength"/>.</summary>
    /// <exception cref="ArgumentException">The stream's namespace is not a topic, or a token was given.</exception>
    public Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        if (token is not null)
            throw new ArgumentException("Redis assigns an event's position when it stores it; a publisher cannot choose a sequence token.", nameof(token));
        var topic = mapper.TopicOf(streamId);
        var fields = RedisStreamEntryFormat.Encode(streamId, events, requestContext, serializer);
        return database.StreamAddAsync(topic.Key, fields, messageId: null, maxLength: options.MaxLength, useApproximateMaxLength: true);
    }
}
