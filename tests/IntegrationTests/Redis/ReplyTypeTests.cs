using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

/// <summary>Every kind of reply, from a real redis-server, under RESP2 and under RESP3 (HELLO 3).</summary>
public sealed class ReplyTypeTests
{
    private RedisFixture _redis = null!;
    private RedisClient _resp3 = null!;

    [OneTimeSetUp]
    public async Task StartRedis()
    {
        _redis = await RedisFixture.StartAsync();
        _resp3 = await _redis.ConnectAsync(o => o with { Protocol = 3 });
    }

    [OneTimeTearDown]
    public async Task StopRedis()
    {
        await _resp3.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [SetUp]
    public Task Flush() => _redis.FlushAsync();

    private RedisClient Client(int protocol) => protocol == 3 ? _resp3 : _redis.Client;

    [TestCase(2)]
    [TestCase(3)]
    public async Task A_simple_string_reply_round_trips(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("PING");

        Assert.That((reply.Kind, reply.ToString()), Is.EqualTo((RespKind.SimpleString, "PONG")));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task An_integer_reply_round_trips(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("INCRBY", "counter", -9_000_000_000_000L);

        Assert.That((reply.Kind, reply.Integer), Is.EqualTo((RespKind.Integer, -9_000_000_000_000L)));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task A_bulk_string_reply_round_trips(int protocol)
    {
        await Client(protocol).ExecuteAsync("SET", "greeting", "grüß dich ✓");

        var reply = await Client(protocol).ExecuteAsync("GET", "greeting");

        Assert.That((reply.Kind, reply.ToString()), Is.EqualTo((RespKind.BulkString, "grüß dich ✓")));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task A_null_reply_round_trips(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("GET", "missing");

        Assert.That((reply.IsNull, reply.AsString()), Is.EqualTo((true, (string?)null)));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task A_null_array_reply_round_trips(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("BLPOP", "missing", "0.01");

        Assert.That(reply.IsNull, Is.True);
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task An_array_reply_round_trips(int protocol)
    {
        await Client(protocol).ExecuteAsync("RPUSH", "list", "a", "b", "c");

        var reply = await Client(protocol).ExecuteAsync("LRANGE", "list", 0, -1);

        Assert.That((reply.Kind, reply.Items.Select(i => i.ToString())), Is.EqualTo((RespKind.Array, new[] { "a", "b", "c" })));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task Nested_arrays_round_trip(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("EVAL", "return {1, {'two', {3, {}}}, 'four'}", 0);

        Assert.That(reply.ToString(), Is.EqualTo("[1, [two, [3, []]], four]"));
        Assert.That(reply.Items[1].Items[1].Items[1].Kind, Is.EqualTo(RespKind.Array));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task An_empty_array_reply_round_trips(int protocol)
    {
        var reply = await Client(protocol).ExecuteAsync("KEYS", "nothing:*");

        Assert.That((reply.Kind, reply.Items.Count), Is.EqualTo((RespKind.Array, 0)));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task An_error_reply_becomes_a_server_exception_with_its_code(int protocol)
    {
        await Client(protocol).ExecuteAsync("SET", "text", "value");

        var error = Assert.ThrowsAsync<RedisServerException>(() => Client(protocol).ExecuteAsync("LPUSH", "text", "x"));

        Assert.That(error!.Code, Is.EqualTo("WRONGTYPE"));
        Assert.That(error.Message, Does.Contain("wrong kind of value"));
    }

    [Test]
    public async Task With_protocol_3_a_hash_comes_back_as_a_map()
    {
        await _resp3.ExecuteAsync("HSET", "h", "a", "1", "b", "2");

        var reply = await _resp3.ExecuteAsync("HGETALL", "h");

        Assert.That(reply.Kind, Is.EqualTo(RespKind.Map));
        Assert.That(reply.ToDictionary().ToDictionary(p => p.Key, p => p.Value.ToString()), Is.EqualTo(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }));
    }

    [Test]
    public async Task With_protocol_2_a_hash_comes_back_as_a_flat_array_that_reads_as_a_dictionary()
    {
        await _redis.Client.ExecuteAsync("HSET", "h", "a", "1");

        var reply = await _redis.Client.ExecuteAsync("HGETALL", "h");

        Assert.That(reply.Kind, Is.EqualTo(RespKind.Array));
        Assert.That(reply.ToDictionary()["a"].ToString(), Is.EqualTo("1"));
    }

    [Test]
    public async Task With_protocol_3_a_set_comes_back_as_a_set()
    {
        await _resp3.ExecuteAsync("SADD", "s", "x", "y");

        var reply = await _resp3.ExecuteAsync("SMEMBERS", "s");

        Assert.That((reply.Kind, reply.Items.Select(i => i.ToString()).Order()), Is.EqualTo((RespKind.Set, new[] { "x", "y" })));
    }

    [Test]
    public async Task With_protocol_3_a_score_comes_back_as_a_double()
    {
        await _resp3.ExecuteAsync("ZADD", "z", 2.5, "m");

        var reply = await _resp3.ExecuteAsync("ZSCORE", "z", "m");

        Assert.That((reply.Kind, reply.Double), Is.EqualTo((RespKind.Double, 2.5)));
    }

    [TestCase("return true", true)]
    [TestCase("return false", false)]
    public async Task With_protocol_3_a_boolean_round_trips(string script, bool expected)
    {
        var reply = await _resp3.ExecuteAsync("EVAL", "redis.setresp(3); " + script, 0);

        Assert.That((reply.Kind, reply.Boolean), Is.EqualTo((RespKind.Boolean, expected)));
    }

    [Test]
    public async Task With_protocol_3_a_null_is_the_RESP3_null()
    {
        var reply = await _resp3.ExecuteAsync("EVAL", "redis.setresp(3); return redis.call('GET', 'missing')", 0);

        Assert.That(reply.Kind, Is.EqualTo(RespKind.Null));
    }

    [Test]
    public async Task With_protocol_3_a_big_number_round_trips()
    {
        var reply = await _resp3.ExecuteAsync("EVAL", "redis.setresp(3); return {big_number='1234567890123456789012345678901234567890'}", 0);

        Assert.That((reply.Kind, reply.ToString()), Is.EqualTo((RespKind.BigNumber, "1234567890123456789012345678901234567890")));
    }

    [Test]
    public async Task With_protocol_3_a_double_from_a_script_round_trips()
    {
        var reply = await _resp3.ExecuteAsync("EVAL", "redis.setresp(3); return {double=-0.125}", 0);

        Assert.That((reply.Kind, reply.Double), Is.EqualTo((RespKind.Double, -0.125)));
    }

    [Test]
    public async Task With_protocol_3_a_verbatim_string_round_trips_without_its_format_tag()
    {
        var reply = await _resp3.ExecuteAsync("INFO", "server");

        Assert.That(reply.Kind, Is.EqualTo(RespKind.VerbatimString));
        Assert.That(reply.ToString(), Does.StartWith("# Server\r\n"));
    }

    [Test]
    public async Task With_protocol_3_nested_maps_and_sets_round_trip()
    {
        var reply = await _resp3.ExecuteAsync("EVAL", "redis.setresp(3); return {map={outer={set={only=true}}}}", 0);

        Assert.That(reply.Kind, Is.EqualTo(RespKind.Map));
        var inner = reply.ToDictionary()["outer"];
        Assert.That((inner.Kind, inner.Items.Single().ToString()), Is.EqualTo((RespKind.Set, "only")));
    }

    [Test]
    public async Task Protocol_3_is_negotiated_with_HELLO()
    {
        var reply = await _resp3.ExecuteAsync("HELLO");

        Assert.That(reply.ToDictionary()["proto"].Integer, Is.EqualTo(3));
    }
}
