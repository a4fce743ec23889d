using Cluster.Grains;
using Cluster.Grains.Functions;
using Cluster.Grains.Redis;
using StackExchange.Redis;

namespace Cluster.Benchmarks;

/// <summary>A redis-server of its own, without persistence, with the function library loaded; removed with its data on dispose.</summary>
public sealed class ScratchRedis : IAsyncDisposable
{
    private readonly string _directory;
    private readonly RedisServerProcess _server;

    private ScratchRedis(string directory, RedisServerProcess server, RedisClient client, ConnectionMultiplexer multiplexer)
    {
        (_directory, _server, Client, _multiplexer) = (directory, server, client, multiplexer);
        Grains = new Cluster.Grains.Lua.LuaGrainFactory(client, multiplexer, new ClusterGrainOptions());
    }

    private readonly ConnectionMultiplexer _multiplexer;

    public RedisClient Client { get; }

    public GrainFactory Grains { get; }

    public static async Task<ScratchRedis> StartAsync(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cluster-bench-{name}-{Guid.NewGuid():N}");
        RedisServerProcess? server = null;
        RedisClient? client = null;
        ConnectionMultiplexer? multiplexer = null;
        try
        {
            server = await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = false });
            // Long timeouts: a benchmark fills millions of keys, and a slow reply is a result, not a failure.
            client = await RedisClient.ConnectAsync(server.ConnectionString + ",timeout=120000");
            multiplexer = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
            {
                EndPoints = { { "127.0.0.1", server.Port } },
                SyncTimeout = 120_000,
                AsyncTimeout = 120_000,
            });
            await FunctionLibrary.LoadAsync(client);
            return new ScratchRedis(directory, server, client, multiplexer);
        }
        catch
        {
            await CleanUpAsync(directory, server, client, multiplexer);
            throw;
        }
    }

    public ValueTask DisposeAsync() => CleanUpAsync(_directory, _server, Client, _multiplexer);

    private static async ValueTask CleanUpAsync(string directory, RedisServerProcess? server, RedisClient? client, ConnectionMultiplexer? multiplexer)
    {
        if (multiplexer is not null) await multiplexer.DisposeAsync();
        if (client is not null) await client.DisposeAsync();
        if (server is not null) await server.DisposeAsync();
        try { Directory.Delete(directory, true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
