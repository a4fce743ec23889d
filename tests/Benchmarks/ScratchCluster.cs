using Cluster.Grains;
using Cluster.Grains.RedisServer;
using Cluster.Silo.Hosting;
using Cluster.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cluster.Benchmarks;

/// <summary>
/// A redis-server of its own, without persistence, and one in-process silo running the grains on it, as a silo
/// process does; removed with its data on dispose.
/// </summary>
public sealed class ScratchCluster : IAsyncDisposable
{
    private readonly string _directory;
    private readonly RedisServerProcess _server;
    private readonly ConnectionMultiplexer _redis;
    private readonly IHost _silo;

    private ScratchCluster(string directory, RedisServerProcess server, ConnectionMultiplexer redis, IHost silo)
    {
        (_directory, _server, _redis, _silo) = (directory, server, redis, silo);
        Grains = silo.Services.GetRequiredService<GrainFactory>();
        Orleans = silo.Services.GetRequiredService<IGrainFactory>();
    }

    public GrainFactory Grains { get; }
    public IGrainFactory Orleans { get; }
    public IDatabase Database => _redis.GetDatabase();

    public static async Task<ScratchCluster> StartAsync(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cluster-bench-{name}-{Guid.NewGuid():N}");
        var server = await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = false });
        // Long timeouts: a benchmark fills millions of entries, and a slow reply is a result, not a failure.
        var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { "127.0.0.1", server.Port } },
            SyncTimeout = 120_000,
            AsyncTimeout = 120_000,
            AllowAdmin = true,
        });
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IConnectionMultiplexer>(redis);
        builder.Services.AddClusterGrains(builder.Configuration);
        builder.UseOrleans(silo =>
        {
            silo.Configure<Orleans.Configuration.EndpointOptions>(endpoints =>
            {
                endpoints.AdvertisedIPAddress = System.Net.IPAddress.Loopback;
                endpoints.SiloPort = FreePort.Take();
                endpoints.GatewayPort = FreePort.Take();
            });
            silo.UseClusterRedis();
            silo.Services.AddClusterSerializers();
            silo.Services.AddGrainInterfaceTypeCache();
            silo.AddClusterGrains();
        });
        var host = builder.Build();
        await host.StartAsync();
        return new ScratchCluster(directory, server, redis, host);
    }

    public async ValueTask DisposeAsync()
    {
        await _silo.StopAsync();
        _silo.Dispose();
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
        try { Directory.Delete(_directory, true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
