using System.Net;
using System.Net.Sockets;
using Cluster.Grains;
using Cluster.Grains.RedisServer;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;
using OrleansClusterOptions = Orleans.Configuration.ClusterOptions;

namespace Cluster.Silo.Hosting;

/// <summary>
/// The Orleans silo inside the web host: membership, grain state, pub-sub state and reminders all in the
/// silo's Redis, through the one multiplexer <see cref="SiloRedis"/> opens before Orleans starts.
/// </summary>
public static class OrleansHosting
{
    /// <summary>Pub-sub state of Orleans streams: who subscribes to which topic.</summary>
    public const string PubSubStore = "PubSubStore";

    /// <param name="builder">The silo's web host.</param>
    /// <param name="dashboard">Add Orleans' dashboard (<c>Orleans:Dashboard</c>, see <see cref="OrleansDashboard"/>).</param>
    public static WebApplicationBuilder AddClusterOrleans(this WebApplicationBuilder builder, bool dashboard)
    {
        builder.Services.AddOptions<OrleansHostOptions>().BindConfiguration(OrleansHostOptions.Section);
        builder.UseOrleans(silo =>
        {
            silo.Services.AddOptions<OrleansClusterOptions>().Configure<IOptions<OrleansHostOptions>>((cluster, host) =>
            {
                cluster.ClusterId = host.Value.ClusterId;
                cluster.ServiceId = host.Value.ServiceId;
            });
            silo.Configure<SiloOptions>(options => options.SiloName = SiloName);
            silo.Services.AddOptions<ClusterMembershipOptions>()
                .Configure(FastRecovery)
                .Bind(builder.Configuration.GetSection(OrleansHostOptions.Section + ":Membership"));
            silo.Services.AddOptions<EndpointOptions>().Configure<IOptions<OrleansHostOptions>, IOptions<RedisHostOptions>>(ConfigureEndpoints);

            silo.UseClusterRedis();
            silo.Services.AddClusterSerializers();
            silo.Services.AddGrainInterfaceTypeCache();
            var maxLength = builder.Configuration.GetValue<long?>("Streams:MaxLength");
            silo.AddClusterGrains(streams => { if (maxLength is { } n) streams.MaxLength = n; });
            if (dashboard) silo.AddClusterDashboard();
        });
        return builder;
    }

    /// <summary>
    /// A silo that starts while the only other members were killed waits for them to be declared dead. Orleans only
    /// probes a member from a joining silo once the member has missed its I-am-alive writes, by default three of one
    /// every 30 s, so a restart after a crash took about two minutes. Two missed writes of one every 5 s (a Redis write
    /// per silo per 5 s) bring that to about half a minute.
    /// A killed member's grains come back elsewhere only once it is declared dead, after three missed probes; until
    /// then every call waiting on an answer from it hangs (the job queue's claims among them). Probes that start at
    /// 2 s (Orleans adapts each between 1 and 8 s to the answers it sees, and stretches it while this silo is itself
    /// degraded) declare a killed silo dead in about 6 s instead of about 15. Everything under
    /// <c>Orleans:Membership</c> overrides it.
    /// </summary>
    private static void FastRecovery(ClusterMembershipOptions membership)
    {
        membership.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        membership.NumMissedTableIAmAliveLimit = 2;
        membership.ProbeTimeout = TimeSpan.FromSeconds(2);
        membership.ExtendProbeTimeoutDuringDegradation = true;
    }

    /// <summary>
    /// Membership, reminders, grain state and pub-sub state in Redis, all through the <see cref="IConnectionMultiplexer"/>
    /// registered in the container (the silo's, or a test's), which the providers share and do not dispose.
    /// </summary>
    public static ISiloBuilder UseClusterRedis(this ISiloBuilder silo)
    {
        silo.UseRedisClustering(_ => { });
        silo.Services.AddOptions<RedisClusteringOptions>().Configure<IConnectionMultiplexer>((options, redis) =>
        {
            options.ConfigurationOptions = SharedConfiguration(redis);
            options.CreateMultiplexer = _ => Shared(redis);
        });

        silo.UseRedisReminderService(_ => { });
        silo.Services.AddOptions<RedisReminderTableOptions>().Configure<IConnectionMultiplexer>((options, redis) =>
        {
            options.ConfigurationOptions = SharedConfiguration(redis);
            options.CreateMultiplexer = _ => Shared(redis);
        });

        silo.AddRedisGrainStorageAsDefault(ConfigureStorage);
        silo.AddRedisGrainStorage(PubSubStore, ConfigureStorage);
        return silo;
    }

    /// <summary>
    /// Grain state is written with Orleans' own serializer rather than the provider's default, Newtonsoft JSON
    /// with CLR type names: it is several times faster and smaller, and its <c>[Id]</c>-numbered fields keep
    /// stored state readable across renames and added fields, where a renamed type breaks the JSON form.
    /// </summary>
    private static void ConfigureStorage(OptionsBuilder<RedisStorageOptions> storage) =>
        storage.Configure<IConnectionMultiplexer, Serializer>((options, redis, serializer) =>
        {
            options.ConfigurationOptions = SharedConfiguration(redis);
            options.CreateMultiplexer = _ => Shared(redis);
            options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
        });

    /// <summary>Orleans' providers insist on a configuration even when they are handed a multiplexer.</summary>
    private static ConfigurationOptions SharedConfiguration(IConnectionMultiplexer redis) => ConfigurationOptions.Parse(redis.Configuration);

    private static Task<(IConnectionMultiplexer Multiplexer, bool IsShared)> Shared(IConnectionMultiplexer redis) => Task.FromResult((redis, true));

    /// <summary>This silo's name in membership, the id <c>/api/silos</c> lists: host, pid and a few random characters.</summary>
    public static readonly string SiloName =
        $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();

    private static void ConfigureEndpoints(EndpointOptions endpoints, IOptions<OrleansHostOptions> host, IOptions<RedisHostOptions> redis)
    {
        var options = host.Value;
        endpoints.SiloPort = options.SiloPort == 0 ? FreePort() : options.SiloPort;
        endpoints.GatewayPort = options.GatewayPort == 0 ? FreePort() : options.GatewayPort;
        if (!string.IsNullOrWhiteSpace(options.AdvertisedIPAddress)) endpoints.AdvertisedIPAddress = IPAddress.Parse(options.AdvertisedIPAddress);
        else if (RedisIsOnThisMachine(redis.Value)) endpoints.AdvertisedIPAddress = IPAddress.Loopback;
    }

    private static bool RedisIsOnThisMachine(RedisHostOptions redis)
    {
        if (redis.UsesEmbeddedServer) return true;
        try
        {
            var host = RedisOptions.Parse(redis.ConnectionString!).Host;
            return host == "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
        }
        catch (RedisConfigurationException)
        {
            return false; // SiloRedis has already refused to start with it
        }
    }

    /// <summary>
    /// A port nothing listens on now. Orleans needs its ports before it binds them (they go into membership),
    /// so it cannot bind port 0 itself; a port taken in between makes the start fail with a clear error.
    /// </summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
