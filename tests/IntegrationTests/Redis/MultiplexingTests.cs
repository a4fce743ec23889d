using System.Diagnostics.Metrics;
using Cluster.Grains.Redis;

namespace Cluster.IntegrationTests.Redis;

public sealed class MultiplexingTests : RedisServerTest
{
    [Test]
    public async Task Ten_thousand_concurrent_calls_each_get_their_own_reply()
    {
        var id = (await RedisServer.Client.ExecuteAsync("CLIENT", "ID")).Integer;

        var calls = Enumerable.Range(0, 10_000)
            .Select(i => Task.Run(() => RedisServer.Client.ExecuteAsync("ECHO", $"caller-{i}-" + new string('x', i % 97))))
            .ToArray();
        var replies = await Task.WhenAll(calls);

        Assert.That(replies.Select(r => r.ToString()), Is.EqualTo(Enumerable.Range(0, 10_000).Select(i => $"caller-{i}-" + new string('x', i % 97))));
        Assert.That((await RedisServer.Client.ExecuteAsync("CLIENT", "ID")).Integer, Is.EqualTo(id), "all calls shared the one connection");
    }

    [Test]
    public async Task Commands_issued_together_go_out_in_a_few_batched_writes()
    {
        var name = "batching-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await RedisServer.ConnectAsync(o => o with { ClientName = name });
        long commands = 0, writes = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (!tags.ToArray().Contains(new KeyValuePair<string, object?>("redis.client.name", name))) return;
            if (instrument.Name == "redis.client.commands") Interlocked.Add(ref commands, value);
            if (instrument.Name == "redis.client.writes") Interlocked.Add(ref writes, value);
        });
        listener.Start();

        var calls = new Task<RespValue>[1000];
        for (var i = 0; i < calls.Length; i++) calls[i] = client.ExecuteAsync("ECHO", i);
        await Task.WhenAll(calls);

        Assert.That(Interlocked.Read(ref commands), Is.EqualTo(1000));
        Assert.That(Interlocked.Read(ref writes), Is.LessThan(100), "one write per command would mean no batching");
    }

    [Test]
    public async Task Concurrent_increments_of_distinct_keys_each_see_their_own_count()
    {
        var calls = Enumerable.Range(0, 10_000)
            .Select(i => Task.Run(() => RedisServer.Client.ExecuteAsync("INCRBY", $"counter:{i}", i)))
            .ToArray();
        var replies = await Task.WhenAll(calls);

        Assert.That(replies.Select(r => r.Integer), Is.EqualTo(Enumerable.Range(0, 10_000).Select(i => (long)i)));
    }

    [Test]
    public async Task An_error_reply_in_the_middle_of_a_pipeline_fails_only_its_own_caller()
    {
        await RedisServer.Client.ExecuteAsync("SET", "text", "value");

        var before = RedisServer.Client.ExecuteAsync("ECHO", "before");
        var failing = RedisServer.Client.ExecuteAsync("INCR", "text");
        var after = RedisServer.Client.ExecuteAsync("ECHO", "after");

        Assert.That((await before).ToString(), Is.EqualTo("before"));
        Assert.That(async () => await failing, Throws.TypeOf<RedisServerException>().With.Property(nameof(RedisServerException.Code)).EqualTo("ERR"));
        Assert.That((await after).ToString(), Is.EqualTo("after"));
    }

    [Test]
    public void An_unknown_command_becomes_a_server_exception()
    {
        Assert.That(() => RedisServer.Client.ExecuteAsync("NOSUCHCOMMAND"),
            Throws.TypeOf<RedisServerException>().With.Message.Contains("unknown command"));
    }
}
