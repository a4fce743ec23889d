using Cluster.Grains.Redis;

namespace Cluster.IntegrationTests.Redis;

public sealed class BinarySafetyTests : RedisServerTest
{
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(256)]
    [TestCase(65_537)]
    [TestCase(1024 * 1024)]
    public async Task A_value_holding_every_byte_value_round_trips_exactly(int length)
    {
        var value = new byte[length];
        for (var i = 0; i < length; i++) value[i] = (byte)(i * 31 + i / 256);
        var key = new byte[] { 0, 255, 13, 10, (byte)'k', 36 };

        await RedisServer.Client.ExecuteAsync("SET", key, value);
        var reply = await RedisServer.Client.ExecuteAsync("GET", key);

        Assert.That(reply.Bytes.ToArray(), Is.EqualTo(value));
    }

    [Test]
    public async Task Each_of_the_256_byte_values_round_trips_as_a_one_byte_value_among_concurrent_calls()
    {
        var writes = Enumerable.Range(0, 256).Select(b => RedisServer.Client.ExecuteAsync("SET", $"byte:{b}", new[] { (byte)b }));
        await Task.WhenAll(writes);

        var reads = await Task.WhenAll(Enumerable.Range(0, 256).Select(b => RedisServer.Client.ExecuteAsync("GET", $"byte:{b}")));

        Assert.That(reads.Select(r => r.Bytes.ToArray().Single()), Is.EqualTo(Enumerable.Range(0, 256).Select(b => (byte)b)));
    }

    [Test]
    public async Task A_megabyte_value_between_small_calls_does_not_disturb_their_replies()
    {
        var big = Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i % 251)).ToArray();
        await RedisServer.Client.ExecuteAsync("SET", "big", big);

        var calls = new List<Task<RespValue>>();
        for (var i = 0; i < 20; i++)
        {
            calls.Add(RedisServer.Client.ExecuteAsync("ECHO", $"before-{i}"));
            calls.Add(RedisServer.Client.ExecuteAsync("GET", "big"));
            calls.Add(RedisServer.Client.ExecuteAsync("ECHO", $"after-{i}"));
        }
        var replies = await Task.WhenAll(calls);

        for (var i = 0; i < 20; i++)
        {
            Assert.That(replies[3 * i].ToString(), Is.EqualTo($"before-{i}"));
            Assert.That(replies[3 * i + 1].Bytes.Span.SequenceEqual(big), Is.True);
            Assert.That(replies[3 * i + 2].ToString(), Is.EqualTo($"after-{i}"));
        }
    }

    [Test]
    public async Task Text_numbers_and_doubles_are_encoded_as_Redis_expects()
    {
        await RedisServer.Client.ExecuteAsync("SET", "n", 42L);
        await RedisServer.Client.ExecuteAsync("INCRBYFLOAT", "n", 0.5);
        await RedisServer.Client.ExecuteAsync("ZADD", "z", double.NegativeInfinity, "low", double.PositiveInfinity, "high");

        Assert.That((await RedisServer.Client.ExecuteAsync("GET", "n")).ToString(), Is.EqualTo("42.5"));
        Assert.That((await RedisServer.Client.ExecuteAsync("ZRANGE", "z", 0, -1)).ToString(), Is.EqualTo("[low, high]"));
    }
}
