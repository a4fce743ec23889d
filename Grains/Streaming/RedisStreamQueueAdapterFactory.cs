using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>
/// The queue adapter factory of an Orleans persistent stream provider over Redis Streams: one queue per topic
/// (<see cref="RedisStreamOptions.Topics"/>), Orleans' <see cref="SimpleQueueAdapterCache"/> in front of each receiver,
/// and the silo's shared <see cref="IConnectionMultiplexer"/>.
/// </summary>
public sealed class RedisStreamQueueAdapterFactory : IQueueAdapterFactory
{
    private readonly string _name;
    private readonly RedisStreamOptions _options;
    private readonly IServiceProvider _services;
    private readonly Serializer _serializer;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TopicQueueMapper _mapper;
    private readonly SimpleQueueAdapterCache _cache;
    private readonly Lazy<IQueueAdapter> _adapter;
    private readonly Task<IStreamFailureHandler> _failureHandler = Task.FromResult<IStreamFailureHandler>(new NoOpStreamDeliveryFailureHandler());

    public RedisStreamQueueAdapterFactory(
        string name,
        RedisStreamOptions options,
        SimpleQueueCacheOptions cacheOptions,
        IServiceProvider services,
        Serializer serializer,
        ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cacheOptions);
        _name = name;
        _options = options;
        _services = services ?? throw new ArgumentNullException(nameof(services));
        _serializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        _mapper = new TopicQueueMapper(options.Topics, options.KeyPrefix, options.ReadTopics);
        _cache = new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory);
        _adapter = new(CreateAdapterOnce);
    }

    /// <summary>The factory for <c>AddPersistentStreams(name, RedisStreamQueueAdapterFactory.Create, …)</c>: reads the provider's named options.</summary>
    public static RedisStreamQueueAdapterFactory Create(IServiceProvider services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetOptionsByName<RedisStreamOptions>(name);
        var cacheOptions = services.GetOptionsByName<SimpleQueueCacheOptions>(name);
        return ActivatorUtilities.CreateInstance<RedisStreamQueueAdapterFactory>(services, name, options, cacheOptions);
    }

    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IQueueAdapter> CreateAdapter() => CreateAdapter(CancellationToken.None);

    public Task<IQueueAdapter> CreateAdapter(CancellationToken cancellationToken) => Task.FromResult(_adapter.Value);

    /// <summary>
    /// The topics that this silo's pulling agents read now (each topic is read by one silo of the cluster at a time),
    /// for diagnostics such as a dashboard's picture of the cluster.
    /// </summary>
    public IReadOnlyCollection<string> ReadingTopics => _adapter.IsValueCreated ? ((RedisStreamQueueAdapter)_adapter.Value).ReadingTopics : [];

    public IQueueAdapterCache GetQueueAdapterCache() => _cache;

    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) => _failureHandler;

    private IQueueAdapter CreateAdapterOnce()
    {
        // Resolved here rather than in the constructor, so that the order of registrations does not matter.
        var multiplexer = _options.ConnectionServiceKey is { } key
            ? _services.GetRequiredKeyedService<IConnectionMultiplexer>(key)
            : _services.GetRequiredService<IConnectionMultiplexer>();
        return new RedisStreamQueueAdapter(_name, _mapper, multiplexer.GetDatabase(), _serializer, _options, _loggerFactory);
    }
}
