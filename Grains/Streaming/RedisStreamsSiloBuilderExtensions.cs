using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Cluster.Grains.Streaming;

/// <summary>Adds Orleans persistent stream providers over Redis Streams to a silo.</summary>
public static class RedisStreamsSiloBuilderExtensions
{
    /// <summary>
    /// Adds a persistent stream provider named <paramref name="name"/> that stores each topic in a Redis stream. The
    /// silo must register an <c>IConnectionMultiplexer</c> (<see cref="RedisStreamOptions.ConnectionServiceKey"/>) and,
    /// unless the provider is set to implicit subscriptions only, a grain storage named <c>PubSubStore</c>.
    /// </summary>
    public static ISiloBuilder AddRedisStreams(this ISiloBuilder builder, string name, Action<RedisStreamOptions>? configureOptions = null) =>
        builder.AddRedisStreams(name, (SiloRedisStreamConfigurator configurator) =>
        {
            if (configureOptions is not null) configurator.ConfigureRedis(options => options.Configure(configureOptions));
        });

    /// <summary>
    /// Adds a persistent stream provider named <paramref name="name"/> over Redis Streams, configured through
    /// <see cref="SiloRedisStreamConfigurator"/>: its Redis options and cache, and Orleans' own persistent stream
    /// settings (pulling agent, pub-sub type, queue balancer…).
    /// </summary>
    public static ISiloBuilder AddRedisStreams(this ISiloBuilder builder, string name, Action<SiloRedisStreamConfigurator> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        var configurator = new SiloRedisStreamConfigurator(name, configureServices => configureServices(builder.Services));
        configure(configurator);
        return builder;
    }
}

/// <summary>Configures one Redis Streams provider of a silo.</summary>
public sealed class SiloRedisStreamConfigurator : SiloPersistentStreamConfigurator
{
    public SiloRedisStreamConfigurator(string name, Action<Action<IServiceCollection>> configureServicesDelegate)
        : base(name, configureServicesDelegate, RedisStreamQueueAdapterFactory.Create)
    {
        ConfigureDelegate(services =>
        {
            services.AddOptions<RedisStreamOptions>(name);
            services.ConfigureNamedOptionForLogging<RedisStreamOptions>(name);
            services.ConfigureNamedOptionForLogging<SimpleQueueCacheOptions>(name);
            services.AddSingleton<IConfigurationValidator>(sp => new RedisStreamOptionsValidator(sp.GetOptionsByName<RedisStreamOptions>(name), name));
        });
    }

    /// <summary>Configures the provider's <see cref="RedisStreamOptions"/>.</summary>
    public SiloRedisStreamConfigurator ConfigureRedis(Action<OptionsBuilder<RedisStreamOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(configureOptions);
        // Not this.Configure<T>, which would register the options for logging a second time.
        ConfigureDelegate(services => configureOptions(services.AddOptions<RedisStreamOptions>(Name)));
        return this;
    }

    /// <summary>Sets how many entries each topic's cache holds on the silo that reads it (Orleans' SimpleQueueCache, 4096 by default).</summary>
    public SiloRedisStreamConfigurator ConfigureCache(int cacheSize = SimpleQueueCacheOptions.DEFAULT_CACHE_SIZE)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cacheSize);
        this.Configure<SimpleQueueCacheOptions>(options => options.Configure(o => o.CacheSize = cacheSize));
        return this;
    }
}
