using Cluster.Grains;
using Cluster.Grains.Jobs;
using Cluster.Grains.Storage;
using Cluster.Grains.Streaming;
using Cluster.Silo.Hosting;
using Cluster.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Serialization;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Orleans;

/// <summary>
/// An in-process Orleans cluster whose membership, grain state, pub-sub state and reminders are in a real
/// redis-server, configured exactly as a silo configures them (<see cref="OrleansHosting.UseClusterRedis"/>),
/// with the Redis stream provider and the outbox grain storage the grains will move onto.
/// </summary>
public static class RedisTestCluster
{
    private const string ConnectionKey = "Test:RedisConnectionString";
    private const string TimingsKey = "Test:Jobs:";
    private const string LimitsKey = "Test:Limits:";

    /// <summary>The Redis stream provider (topics in <c>events:{topic}</c>) and the outbox storage that publishes on it.</summary>
    public const string StreamProvider = ClusterGrainsSilo.StreamProvider;
    public const string OutboxStorage = JobGrain.Storage;

    /// <summary>Job timings short enough for tests to watch backoffs and leases run out.</summary>
    public static readonly ClusterGrainOptions Timings = new() { RetryBackoff = TimeSpan.FromMilliseconds(200), Lease = TimeSpan.FromSeconds(2) };

    /// <summary>Deploys <paramref name="silos"/> silos on <paramref name="redis"/>; a new service id unless one is given (to restart a service).</summary>
    /// <param name="runningJobs">Each tenant's limit of held jobs (<see cref="TenantLimitOptions.RunningJobs"/>); 0 for none.</param>
    public static async Task<TestCluster> DeployAsync(RedisFixture redis, short silos = 2, string? serviceId = null, ClusterGrainOptions? timings = null, int runningJobs = 0)
    {
        timings ??= Timings;
        var builder = new TestClusterBuilder(silos);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Options.ServiceId = serviceId ?? "test-" + Guid.NewGuid().ToString("N")[..8];
        builder.Properties[ConnectionKey] = redis.ConnectionString;
        builder.Properties[TimingsKey + nameof(ClusterGrainOptions.Lease)] = timings.Lease.ToString("c");
        builder.Properties[TimingsKey + nameof(ClusterGrainOptions.WorkerTimeout)] = timings.WorkerTimeout.ToString("c");
        builder.Properties[TimingsKey + nameof(ClusterGrainOptions.RetryBackoff)] = timings.RetryBackoff.ToString("c");
        builder.Properties[TimingsKey + nameof(ClusterGrainOptions.SweepInterval)] = timings.SweepInterval.ToString("c");
        builder.Properties[LimitsKey + nameof(TenantLimitOptions.RunningJobs)] = runningJobs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.AddSiloBuilderConfigurator<Configurator>();
        builder.AddClientBuilderConfigurator<Configurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private sealed class Configurator : ISiloConfigurator, IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client)
        {
            client.UseRedisClustering(configuration[ConnectionKey]!);
            client.Services.AddClusterSerializers();
        }

        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddSingleton<IConnectionMultiplexer>(sp =>
                ConnectionMultiplexer.Connect(sp.GetRequiredService<IConfiguration>()[ConnectionKey]!));
            silo.UseClusterRedis();
            silo.Services.AddClusterSerializers();
            silo.Services.AddGrainInterfaceTypeCache();
            silo.Services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection("Test:Jobs").Get<ClusterGrainOptions>()!);
            silo.Services.AddOptions<TenantLimitOptions>().BindConfiguration(LimitsKey.TrimEnd(':'));
            silo.AddClusterGrains();
        }
    }
}
