using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

/// <summary>The typed helpers, each under RESP2 and RESP3, whose replies differ in shape.</summary>
[TestFixture(2)]
[TestFixture(3)]
public sealed class RedisCommandsTests(int protocol)
{
    private const string Library = """
        #!lua name=testlib
        redis.register_function('add', function(keys, args)
          return redis.call('INCRBY', keys[1], args[1])
        end)
        redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
        """;

    private RedisFixture _redis = null!;
    private RedisClient _client = null!;

    [OneTimeSetUp]
    public async Task StartRedis()
    {
        _redis = await RedisFixture.StartAsync();
        _client = await _redis.ConnectAsync(o => o with { Protocol = protocol });
    }

    [OneTimeTearDown]
    public async Task StopRedis()
    {
        await _client.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [SetUp]
    public Task Flush() => _redis.Client.ExecuteAsync("FLUSHALL");

    [Test]
    public async Task A_function_library_loads_and_its_functions_can_be_called()
    {
        var name = await _client.FunctionLoadAsync(Library, replace: true);

        var sum = await _client.FCallAsync("add", ["total"], [5]);
        var again = await _client.FCallAsync("add", ["total"], [2]);
        var peeked = await _client.FCallReadOnlyAsync("peek", ["total"], []);

        Assert.That((name, sum.Integer, again.Integer, peeked.ToString()), Is.EqualTo(("testlib", 5L, 7L, "7")));
    }

    [Test]
    public async Task Loading_a_library_twice_without_replace_is_a_server_error()
    {
        await _client.FunctionLoadAsync(Library, replace: true);

        Assert.That(() => _client.FunctionLoadAsync(Library), Throws.TypeOf<RedisServerException>().With.Message.Contains("already exists"));
    }

    [Test]
    public async Task Stream_entries_added_can_be_read_by_range_and_by_XREAD()
    {
        var first = await _client.XAddAsync("events", [("kind", "created"), ("job", 1)]);
        var second = await _client.XAddAsync("events", [("kind", "done"), ("job", 1)]);

        var range = await _client.XRangeAsync("events");
        var after = await _client.XReadAsync([("events", first)]);

        Assert.That(range.Select(e => (e.Id, e.Fields["kind"].ToString())), Is.EqualTo(new[] { (first, "created"), (second, "done") }));
        Assert.That(after.Single().Stream, Is.EqualTo("events"));
        Assert.That(after.Single().Entries.Single().Id, Is.EqualTo(second));
        Assert.That(after.Single().Entries.Single().Fields["job"].Integer, Is.EqualTo(1));
    }

    [Test]
    public async Task XADD_with_a_max_length_trims_the_stream()
    {
        for (var i = 0; i < 1000; i++) await _client.XAddAsync("capped", [("n", i)], maxLength: 10);

        var length = (await _client.ExecuteAsync("XLEN", "capped")).Integer;

        Assert.That(length, Is.InRange(10, 200), "approximate trimming removes whole nodes of 100 entries");
    }

    [Test]
    public async Task A_blocking_XREAD_returns_nothing_when_its_block_time_passes()
    {
        var batches = await _client.XReadAsync([("quiet", "$")], block: TimeSpan.FromMilliseconds(20));

        Assert.That(batches, Is.Empty);
    }

    [Test]
    public async Task A_blocking_XREAD_returns_an_entry_added_while_it_waits()
    {
        await _client.XAddAsync("live", [("n", 0)]);
        var read = _client.XReadAsync([("live", "$")], block: Timeout.InfiniteTimeSpan);
        await Eventually.UntilAsync(async () => (await _client.ExecuteAsync("INFO", "clients")).ToString().Contains("blocked_clients:1", StringComparison.Ordinal), "the read blocks");

        var id = await _client.XAddAsync("live", [("n", 1)]);

        Assert.That((await read).Single().Entries.Single().Id, Is.EqualTo(id));
    }

    [Test]
    public async Task A_consumer_group_delivers_acknowledges_and_lets_another_consumer_claim_what_was_not_acknowledged()
    {
        Assert.That(await _client.XGroupCreateAsync("work", "workers", "0"), Is.True);
        Assert.That(await _client.XGroupCreateAsync("work", "workers", "0"), Is.False, "the group exists already");
        var a = await _client.XAddAsync("work", [("task", "a")]);
        var b = await _client.XAddAsync("work", [("task", "b")]);

        var delivered = await _client.XReadGroupAsync("workers", "alice", [("work", ">")], count: 10);
        var acked = await _client.XAckAsync("work", "workers", [a]);
        var claimed = await _client.XAutoClaimAsync("work", "workers", "bob", TimeSpan.Zero);
        var bobsPending = await _client.XReadGroupAsync("workers", "bob", [("work", "0")]);

        Assert.That(delivered.Single().Entries.Select(e => e.Id), Is.EqualTo(new[] { a, b }));
        Assert.That(acked, Is.EqualTo(1));
        Assert.That(claimed.Claimed.Select(e => (e.Id, e.Fields["task"].ToString())), Is.EqualTo(new[] { (b, "b") }));
        Assert.That((claimed.NextStartId, claimed.DeletedIds), Is.EqualTo(("0-0", Array.Empty<string>())));
        Assert.That(bobsPending.Single().Entries.Single().Id, Is.EqualTo(b));
    }

    [Test]
    public async Task XAUTOCLAIM_reports_pending_entries_that_were_deleted()
    {
        await _client.XGroupCreateAsync("work", "workers", "0");
        var gone = await _client.XAddAsync("work", [("task", "gone")]);
        await _client.XReadGroupAsync("workers", "alice", [("work", ">")]);
        await _client.ExecuteAsync("XDEL", "work", gone);

        var claimed = await _client.XAutoClaimAsync("work", "workers", "bob", TimeSpan.Zero);

        Assert.That((claimed.Claimed.Count, claimed.DeletedIds), Is.EqualTo((0, new[] { gone })));
    }

    [Test]
    public async Task Hash_fields_set_can_be_read_one_by_one_or_all_at_once()
    {
        var added = await _client.HSetAsync("job:1", [("status", "pending"), ("priority", 5)]);
        var updated = await _client.HSetAsync("job:1", [("status", "running")]);

        var status = await _client.HGetAsync("job:1", "status");
        var missing = await _client.HGetAsync("job:1", "nope");
        var all = await _client.HGetAllAsync("job:1");
        var none = await _client.HGetAllAsync("job:none");

        Assert.That((added, updated, status.ToString(), missing.IsNull), Is.EqualTo((2L, 0L, "running", true)));
        Assert.That(all.ToDictionary(p => p.Key, p => p.Value.ToString()), Is.EqualTo(new Dictionary<string, string> { ["status"] = "running", ["priority"] = "5" }));
        Assert.That(none, Is.Empty);
    }

    [Test]
    public async Task Sorted_set_members_come_back_in_score_order_with_their_scores()
    {
        Assert.That(await _client.ZAddAsync("jobs:pending", "low", 1), Is.True);
        Assert.That(await _client.ZAddAsync("jobs:pending", "low", 1.5), Is.False, "an existing member only changes its score");
        Assert.That(await _client.ZAddAsync("jobs:pending", [("high", 10), ("mid", 5)]), Is.EqualTo(2));

        var ascending = await _client.ZRangeAsync("jobs:pending", 0, -1);
        var descending = await _client.ZRangeWithScoresAsync("jobs:pending", 0, 1, reverse: true);
        var score = await _client.ZScoreAsync("jobs:pending", "low");
        var noScore = await _client.ZScoreAsync("jobs:pending", "absent");
        var removed = await _client.ZRemAsync("jobs:pending", ["low", "absent"]);

        Assert.That(ascending.Select(m => m.ToString()), Is.EqualTo(new[] { "low", "mid", "high" }));
        Assert.That(descending.Select(p => (p.Member.ToString(), p.Score)), Is.EqualTo(new[] { ("high", 10.0), ("mid", 5.0) }));
        Assert.That((score, noScore, removed), Is.EqualTo(((double?)1.5, (double?)null, 1L)));
    }
}
