using Cluster.Grains.Redis;

namespace Cluster.Testing;

/// <summary>A real redis-server on a free loopback port in a temporary folder, for one test fixture.</summary>
public sealed class RedisFixture : IAsyncDisposable
{
    private RedisFixture(RedisServerProcess server, RedisClient client)
    {
        Server = server;
        Client = client;
    }

    public RedisServerProcess Server { get; }
    public RedisClient Client { get; }
    public string ConnectionString => Server.ConnectionString;

    public static async Task<RedisFixture> StartAsync(bool appendOnly = false)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cluster-tests", Guid.NewGuid().ToString("N"));
        var server = await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = appendOnly });
        var client = await RedisClient.ConnectAsync(server.ConnectionString);
        return new RedisFixture(server, client);
    }

    public Task FlushAsync() => Client.ExecuteAsync("FLUSHALL");

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        try { Directory.Delete(Server.DataDirectory, recursive: true); } catch (IOException) { }
    }
}
