namespace Cluster.Testing;

/// <summary>Several real silos sharing one real redis-server, as operators scale out on one machine.</summary>
public sealed class SiloCluster : IAsyncDisposable
{
    private SiloCluster(RedisFixture redis, SiloProcess[] silos)
    {
        Redis = redis;
        Silos = silos;
    }

    /// <summary>The shared server; tests read it directly to check what the silos did.</summary>
    public RedisFixture Redis { get; }
    public IReadOnlyList<SiloProcess> Silos { get; }
    public SiloProcess this[int index] => Silos[index];

    /// <summary>Starts the server, then <paramref name="count"/> silos with <paramref name="settings"/> pointed at it, and waits until all are ready.</summary>
    public static async Task<SiloCluster> StartAsync(int count, SiloSettings settings)
    {
        var redis = await RedisFixture.StartAsync();
        var shared = settings with { RedisConnectionString = redis.ConnectionString };
        var silos = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => SiloProcess.StartReadyAsync(shared)));
        return new SiloCluster(redis, silos);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Silos.Select(s => s.DisposeAsync().AsTask()));
        await Redis.DisposeAsync();
    }
}
