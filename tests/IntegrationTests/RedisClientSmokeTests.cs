using Cluster.Testing;

namespace Cluster.IntegrationTests;

public sealed class RedisClientSmokeTests
{
    [Test]
    public async Task A_value_set_can_be_read_back()
    {
        await using var redis = await RedisFixture.StartAsync();
        await redis.Client.ExecuteAsync("SET", "greeting", "hello");
        var reply = await redis.Client.ExecuteAsync("GET", "greeting");
        Assert.That(reply.ToString(), Is.EqualTo("hello"));
    }
}
