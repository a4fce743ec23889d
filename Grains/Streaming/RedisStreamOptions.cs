using Orleans.Runtime;

namespace Cluster.Grains.Streaming;

/// <summary>
/// Options of an Orleans persistent stream provider over Redis Streams, added with
/// <see cref="RedisStreamsSiloBuilderExtensions.AddRedisStreams(Orleans.Hosting.ISiloBuilder, string, Action{RedisStreamOptions}?)"/>.
/// </summary>
/// <remarks>
/// Each topic is one queue of the provider and one Redis stream key, <c>{KeyPrefix}:{topic}</c>. A stream id's namespace
/// names its topic: <c>StreamId.Create("jobs", key)</c> is stored in <c>events:jobs</c>, whatever its key. Events of a topic
/// are therefore totally ordered, one pulling agent (on one silo) reads a topic at a time, and the key can be read with
/// XRANGE from any entry id to resume.
/// </remarks>
public sealed class RedisStreamOptions
{
    /// <summary>The default <see cref="KeyPrefix"/>.</summary>
    public const string DefaultKeyPrefix = "events";

    /// <summary>The default <see cref="Topics"/>: the system's topic streams.</summary>
    public static IReadOnlyList<string> DefaultTopics { get; } = ["jobs", "workers", "machines", "workflows", "modules", "silos", "stats", "steps", "hooks"];

    /// <summary>
    /// Prefix of the Redis keys: topic <c>jobs</c> is stored in the stream key <c>{KeyPrefix}:jobs</c>. Default
    /// <c>events</c>. Services that share a Redis server need different prefixes.
    /// </summary>
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>
    /// The topics: the stream namespaces this provider carries, one queue and one Redis stream key each. Default
    /// <see cref="DefaultTopics"/>. Publishing on a stream whose namespace is not listed here throws
    /// <see cref="ArgumentException"/>: a namespace is never mapped to some other topic's key, since that would mix
    /// the order and the resume ids of two topics. A topic may not contain '/' (the stream id separator in entries).
    /// Every silo must list the same topics, or a topic listed on one silo only would be read by that silo alone.
    /// </summary>
    public IList<string> Topics { get; set; } = [.. DefaultTopics];

    /// <summary>
    /// The topics the provider's pulling agents read and deliver to subscribers; <see langword="null"/> (the default)
    /// reads them all. Each must be one of <see cref="Topics"/>. A topic left out can still be published on, but no grain
    /// that subscribes to it is ever called: leave out only topics that other readers tail on their own (the gateway
    /// reads the client-facing topics with <c>XREAD</c>), since reading a topic costs Redis an <c>XREADGROUP</c> and an
    /// <c>XACK</c> for every entry, and the silo a message to the cache and the agent.
    /// </summary>
    public IList<string>? ReadTopics { get; set; }

    /// <summary>
    /// Caps each topic's key with <c>XADD … MAXLEN ~ MaxLength</c>; <see langword="null"/> leaves keys uncapped.
    /// Default 100,000. Redis trims whole radix-tree nodes (<c>stream-node-max-entries</c>, 100 by default), so a key
    /// holds between MaxLength and about MaxLength + 100 entries. The cap also bounds how far back a client can resume,
    /// and an entry trimmed before it was delivered is lost to consumers: keep it well above what they can lag.
    /// </summary>
    public long? MaxLength { get; set; } = 100_000;

    /// <summary>
    /// The most entries one <c>XREADGROUP</c> returns (its COUNT). The pulling agent may ask for fewer when its cache
    /// is nearly full. Default 256.
    /// </summary>
    public int ReadBatchSize { get; set; } = 256;

    /// <summary>
    /// Name of the Redis consumer group the silos read with; <see langword="null"/> (the default) uses the stream
    /// provider's name. Another provider or program reading the same keys with a group of its own gets every entry too.
    /// </summary>
    public string? ConsumerGroup { get; set; }

    /// <summary>
    /// How the provider gets its connection: the <c>StackExchange.Redis.IConnectionMultiplexer</c> registered in the
    /// silo's services, under this service key when it is not <see langword="null"/> (the default: the unkeyed
    /// singleton). The silo owns that multiplexer and shares it with its other Redis users; the provider never
    /// connects, closes or disposes it.
    /// </summary>
    public object? ConnectionServiceKey { get; set; }
}

/// <summary>Refuses <see cref="RedisStreamOptions"/> that cannot work, when the silo starts.</summary>
internal sealed class RedisStreamOptionsValidator(RedisStreamOptions options, string providerName) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        try
        {
            TopicQueueMapper.Validate(options.Topics, options.KeyPrefix, options.ReadTopics);
        }
        catch (ArgumentException e)
        {
            throw new OrleansConfigurationException($"Redis stream provider '{providerName}': {e.Message}", e);
        }
        if (options.MaxLength is <= 0)
            throw new OrleansConfigurationException($"Redis stream provider '{providerName}': MaxLength must be positive or null (uncapped), not {options.MaxLength}.");
        if (options.ReadBatchSize <= 0)
            throw new OrleansConfigurationException($"Redis stream provider '{providerName}': ReadBatchSize must be positive, not {options.ReadBatchSize}.");
        if (options.ConsumerGroup is { } group && string.IsNullOrWhiteSpace(group))
            throw new OrleansConfigurationException($"Redis stream provider '{providerName}': ConsumerGroup must be null (the provider's name) or a name.");
    }
}
