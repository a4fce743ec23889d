using Cluster.Testing;

namespace Cluster.IntegrationTests;

/// <summary>A test class with a real redis-server of its own, started once for all of its tests.</summary>
public abstract class RedisServerTest
{
    protected RedisFixture RedisServer { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartRedis() => RedisServer = await RedisFixture.StartAsync();

    [OneTimeTearDown]
    public ValueTask StopRedis() => RedisServer.DisposeAsync();
}
