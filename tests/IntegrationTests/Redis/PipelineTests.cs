using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

public sealed class PipelineTests : RedisServerTest
{
    [Test]
    public async Task A_pipeline_returns_every_reply_in_order_with_errors_in_place()
    {
        await RedisServer.Client.ExecuteAsync("DEL", "pipe:list", "pipe:n");

        var replies = await RedisServer.Client.ExecutePipelineAsync(
        [
            new RedisCommand("INCR", "pipe:n"),
            new RedisCommand("RPUSH", "pipe:list", "a", "b"),
            new RedisCommand("INCR", "pipe:list"), // WRONGTYPE: comes back as a value, the rest still run
            new RedisCommand("INCR", "pipe:n"),
            new RedisCommand("LRANGE", "pipe:list", 0, -1),
        ]);

        Assert.That(replies, Has.Length.EqualTo(5));
        Assert.That(replies[0].Integer, Is.EqualTo(1));
        Assert.That(replies[1].Integer, Is.EqualTo(2));
        Assert.That(replies[2].IsError, Is.True);
        Assert.That(replies[2].ToString(), Does.StartWith("WRONGTYPE"));
        Assert.That(replies[3].Integer, Is.EqualTo(2));
        Assert.That(replies[4].Items.Select(i => i.ToString()), Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public async Task Pipelines_and_single_calls_interleaved_from_many_callers_each_get_their_own_replies()
    {
        var pipelines = Enumerable.Range(0, 200).Select(p => Task.Run(() => RedisServer.Client.ExecutePipelineAsync(
            Enumerable.Range(0, 10).Select(i => new RedisCommand("ECHO", $"p{p}-{i}")).ToArray()))).ToArray();
        var singles = Enumerable.Range(0, 500).Select(i => Task.Run(() => RedisServer.Client.ExecuteAsync("ECHO", $"s{i}"))).ToArray();

        var pipelineReplies = await Task.WhenAll(pipelines);
        var singleReplies = await Task.WhenAll(singles);

        for (var p = 0; p < 200; p++)
            Assert.That(pipelineReplies[p].Select(r => r.ToString()), Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"p{p}-{i}")));
        Assert.That(singleReplies.Select(r => r.ToString()), Is.EqualTo(Enumerable.Range(0, 500).Select(i => $"s{i}")));
    }

    [Test]
    public async Task A_pipeline_in_flight_when_the_link_dies_fails_with_a_connection_exception_and_the_next_one_works()
    {
        await using var client = await RedisServer.ConnectAsync();
        var id = (await client.ExecuteAsync("CLIENT", "ID")).Integer;

        var blocked = client.ExecutePipelineAsync([new RedisCommand("PING"), new RedisCommand("BLPOP", "pipe:never", 0)]);
        await RedisServer.Client.ExecuteAsync("CLIENT", "KILL", "ID", id);

        Assert.ThrowsAsync<RedisConnectionException>(() => blocked);
        var after = await Eventually.HoldsAsync(async () =>
        {
            try { return await client.ExecutePipelineAsync([new RedisCommand("PING")]); }
            catch (RedisConnectionException) { return null; }
        }, r => r is not null, because: "the client reconnects by itself");
        Assert.That(after![0].ToString(), Is.EqualTo("PONG"));
    }

    [Test]
    public async Task A_cancelled_pipeline_ends_cancelled_and_the_connection_stays_usable()
    {
        using var cancel = new CancellationTokenSource();
        await using var client = await RedisServer.ConnectAsync();
        // The server holds the reply for a second, so the cancellation always comes first.
        var slow = client.ExecutePipelineAsync([new RedisCommand("PING"), new RedisCommand("BLPOP", "pipe:nothing", 1)], cancel.Token);
        await cancel.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => slow);
        var after = await client.ExecutePipelineAsync([new RedisCommand("ECHO", "still here")]);

        Assert.That(slow.IsCanceled, Is.True);
        Assert.That(after[0].ToString(), Is.EqualTo("still here"), "the late replies went to the cancelled pipeline's slots, not to this one");
    }
}
