using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

public sealed class ConnectionLossTests
{
    [Test]
    public async Task Calls_in_flight_when_the_link_dies_fail_with_a_connection_exception()
    {
        await using var redis = await RedisFixture.StartAsync();
        await using var client = await redis.ConnectAsync(o => o with { CommandTimeout = TimeSpan.FromMinutes(1) });
        var id = (await client.ExecuteAsync("CLIENT", "ID")).Integer;
        var blocked = client.ExecuteAsync("BLPOP", "never", 0);
        var queuedBehind = Enumerable.Range(0, 100).Select(i => client.ExecuteAsync("ECHO", $"{i}")).ToArray();

        await redis.Client.ExecuteAsync("CLIENT", "KILL", "ID", id);

        Assert.That(async () => await blocked, Throws.TypeOf<RedisConnectionException>());
        foreach (var call in queuedBehind) Assert.That(async () => await call, Throws.TypeOf<RedisConnectionException>());
    }

    [Test]
    public async Task The_client_reconnects_by_itself_after_its_connection_is_killed()
    {
        await using var redis = await RedisFixture.StartAsync();
        await using var client = await redis.ConnectAsync(o => o with { ClientName = "victim" });
        await client.ExecuteAsync("SET", "kept", "yes");
        var id = (await client.ExecuteAsync("CLIENT", "ID")).Integer;
        var blocked = client.ExecuteAsync("BLPOP", "never", 0);

        await redis.Client.ExecuteAsync("CLIENT", "KILL", "ID", id);
        Assert.That(async () => await blocked, Throws.TypeOf<RedisConnectionException>());

        var newId = (await client.ExecuteAsync("CLIENT", "ID")).Integer;
        Assert.That(newId, Is.Not.EqualTo(id));
        Assert.That((await client.ExecuteAsync("GET", "kept")).ToString(), Is.EqualTo("yes"));
        Assert.That((await client.ExecuteAsync("CLIENT", "GETNAME")).ToString(), Is.EqualTo("victim"), "the handshake ran again");
    }

    [Test]
    public async Task The_client_reconnects_by_itself_after_the_server_restarts_on_the_same_port()
    {
        await using var redis = await RedisFixture.StartAsync(appendOnly: true);
        var port = redis.Server.Port;
        await redis.Client.ExecuteAsync("SET", "durable", "still here");

        await redis.StopServerAsync();
        await AssertUnreachableAsync(redis.Client);
        var whileDown = redis.Client.ExecuteAsync("GET", "durable");
        await redis.StartServerAgainAsync();

        Assert.That(redis.Server.Port, Is.EqualTo(port));
        Assert.That((await whileDown).ToString(), Is.EqualTo("still here"), "a call made while the server was down waited for the reconnection");
        Assert.That((await redis.Client.ExecuteAsync("INCR", "after-restart")).Integer, Is.EqualTo(1));
    }

    [Test]
    public async Task A_call_made_while_Redis_stays_unreachable_fails_with_a_connection_exception_after_its_timeout()
    {
        await using var redis = await RedisFixture.StartAsync();
        await using var client = await redis.ConnectAsync();
        await redis.StopServerAsync();
        await AssertUnreachableAsync(client);

        var call = client.ExecuteAsync("PING", [], CancellationToken.None, TimeSpan.FromMilliseconds(300));

        Assert.That(async () => await call, Throws.TypeOf<RedisConnectionException>().With.Message.Contains("reconnecting"));
        await redis.StartServerAgainAsync();
    }

    [Test]
    public async Task Connecting_to_a_port_where_nothing_listens_fails_with_a_connection_exception()
    {
        await using var redis = await RedisFixture.StartAsync();
        var port = redis.Server.Port;
        await redis.StopServerAsync();

        Assert.That(() => RedisClient.ConnectAsync($"127.0.0.1:{port}"),
            Throws.TypeOf<RedisConnectionException>().With.Message.Contains($"127.0.0.1:{port}"));
        await redis.StartServerAgainAsync();
    }

    [Test]
    public async Task A_disposed_client_refuses_further_calls()
    {
        await using var redis = await RedisFixture.StartAsync();
        var client = await redis.ConnectAsync();
        await client.DisposeAsync();

        Assert.That(() => client.ExecuteAsync("PING"), Throws.TypeOf<ObjectDisposedException>());
    }

    /// <summary>The first call after the server went away fails one way or another; either way the client now knows.</summary>
    private static Task AssertUnreachableAsync(RedisClient client)
    {
        Assert.That(() => client.ExecuteAsync("PING", [], CancellationToken.None, TimeSpan.FromMilliseconds(300)), Throws.TypeOf<RedisConnectionException>());
        return Task.CompletedTask;
    }
}
