using Cluster.Grains;
using Cluster.Grains.Functions;
using Cluster.Grains.Redis;

namespace Cluster.Benchmarks;

/// <summary>A redis-server of its own, without persistence, with the function library loaded; removed with its data on dispose.</summary>
public sealed class ScratchRedis : IAsyncDisposable
{
    private readonly string _directory;
    private readonly RedisServerProcess _server;

    private ScratchRedis(string directory, RedisServerProcess server, RedisClient client)
    {
        (_directory, _server, Client) = (directory, server, client);
        Grains = new Cluster.Grains.Lua.LuaGrainFactory(client, new ClusterGrainOptions());
    }

    public RedisClient Client { get; }

    public GrainFactory Grains { get; }

    public static async Task<ScratchRedis> StartAsync(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cluster-bench-{name}-{Guid.NewGuid():N}");
        RedisServerProcess? server = null;
        RedisClient? client = null;
        try
        {
            server = await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = false });
            // Long timeouts: a benchmark fills millions of keys, and a slow reply is a result, not a failure.
            client = await RedisClient.ConnectAsync(server.ConnectionString + ",timeout=120000");
            await FunctionLibrary.LoadAsync(client);
            return new ScratchRedis(directory, server, client);
        }
        catch
        {
            await CleanUpAsync(directory, server, client);
            throw;
        }
    }

    public ValueTask DisposeAsync() => CleanUpAsync(_directory, _server, Client);

    private static async ValueTask CleanUpAsync(string directory, RedisServerProcess? server, RedisClient? client)
    {
        if (client is not null) await client.DisposeAsync();
        if (server is not null) await server.DisposeAsync();
        try { Directory.Delete(directory, true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
