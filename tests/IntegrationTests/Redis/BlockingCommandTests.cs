using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

public sealed class BlockingCommandTests : RedisServerTest
{
    private RedisClient _client = null!;
    private string _name = "";

    [SetUp]
    public async Task ConnectClientOfItsOwn()
    {
        // Each test counts the blocking connections of a client nobody else used.
        _name = "test-" + Guid.NewGuid().ToString("N")[..8];
        _client = await RedisServer.ConnectAsync(o => o with { ClientName = _name });
    }

    [TearDown]
    public ValueTask DisconnectClient() => _client.DisposeAsync();

    [Test]
    public async Task A_blocking_read_waits_on_its_own_connection_while_other_calls_go_ahead()
    {
        var read = _client.ExecuteBlockingAsync("XREAD", ["BLOCK", 0, "STREAMS", "events", "$"], CancellationToken.None);
        await Eventually.UntilAsync(async () => await BlockedClientsAsync() == 1, "the read blocks on the server");

        Assert.That((await RedisServer.Client.ExecuteAsync("PING")).ToString(), Is.EqualTo("PONG"), "the main connection is not held up");
        await RedisServer.Client.ExecuteAsync("XADD", "events", "*", "kind", "started");

        var reply = await read;
        Assert.That(reply.ToString(), Does.Contain("events").And.Contain("started"));
    }

    [Test]
    public async Task Cancelling_a_blocking_read_closes_its_connection_so_the_server_stops_waiting()
    {
        using var cancel = new CancellationTokenSource();
        var read = _client.ExecuteBlockingAsync("BLPOP", ["never", 0], cancel.Token);
        await Eventually.UntilAsync(async () => await BlockedClientsAsync() == 1, "the read blocks on the server");

        await cancel.CancelAsync();

        Assert.That(async () => await read, Throws.InstanceOf<OperationCanceledException>());
        await Eventually.UntilAsync(async () => await BlockedClientsAsync() == 0, "the server stops blocking");
        Assert.That(await BlockingConnectionsAsync(), Is.Zero, "the cancelled connection was closed, not pooled");
    }

    [Test]
    public async Task A_finished_blocking_connection_is_reused_for_the_next_blocking_read()
    {
        await RedisServer.Client.ExecuteAsync("RPUSH", "jobs", "a", "b");

        var first = await _client.ExecuteBlockingAsync("BLPOP", ["jobs", 1], CancellationToken.None);
        var second = await _client.ExecuteBlockingAsync("BLPOP", ["jobs", 1], CancellationToken.None);

        Assert.That((first.Items[1].ToString(), second.Items[1].ToString()), Is.EqualTo(("a", "b")));
        Assert.That(await BlockingConnectionsAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Concurrent_blocking_reads_each_get_a_connection()
    {
        var reads = Enumerable.Range(0, 5).Select(i => _client.ExecuteBlockingAsync("BLPOP", [$"queue:{i}", 0], CancellationToken.None)).ToArray();
        await Eventually.UntilAsync(async () => await BlockedClientsAsync() == 5, "all five reads block on the server");

        for (var i = 0; i < 5; i++) await RedisServer.Client.ExecuteAsync("RPUSH", $"queue:{i}", $"item-{i}");

        var replies = await Task.WhenAll(reads);
        Assert.That(replies.Select(r => r.Items[1].ToString()), Is.EqualTo(Enumerable.Range(0, 5).Select(i => $"item-{i}")));
    }

    [Test]
    public async Task A_server_error_from_a_blocking_command_is_a_server_exception()
    {
        await RedisServer.Client.ExecuteAsync("SET", "plain", "text");

        Assert.That(() => _client.ExecuteBlockingAsync("BLPOP", ["plain", 1], CancellationToken.None),
            Throws.TypeOf<RedisServerException>().With.Property(nameof(RedisServerException.Code)).EqualTo("WRONGTYPE"));
    }

    private async Task<long> BlockedClientsAsync()
    {
        var info = (await RedisServer.Client.ExecuteAsync("INFO", "clients")).ToString();
        var line = info.Split("\r\n").Single(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
        return long.Parse(line["blocked_clients:".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<int> BlockingConnectionsAsync()
    {
        var list = (await RedisServer.Client.ExecuteAsync("CLIENT", "LIST")).ToString();
        return list.Split('\n').Count(l => l.Contains($"name={_name}-blocking ", StringComparison.Ordinal));
    }
}
