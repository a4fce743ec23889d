using Cluster.Testing;

namespace Cluster.IntegrationTests.Streaming;

/// <summary>Two silos on a real redis-server; the one that reads a topic is killed while it holds unacknowledged entries.</summary>
public sealed class RedisStreamsFailoverTests : RedisServerTest
{
    private const string Prefix = "failover";
    // Enough topics that the second silo's share of the ring surely holds one of them.
    private static readonly string[] Topics = [.. Enumerable.Range(0, 16).Select(i => $"test-{i:00}")];

    [Test]
    public async Task Entries_a_killed_silo_read_but_never_acknowledged_are_delivered_by_the_silo_that_takes_its_topic()
    {
        const int count = 20;
        await using var cluster = await StreamTestCluster.StartAsync(RedisServer, Prefix, Topics, silos: 2, forFailover: true);
        var survivor = cluster.Primary!;
        var doomed = cluster.SecondarySilos[0];
        await Eventually.UntilAsync(
            () => Task.FromResult(StreamTestCluster.TopicsReadBy(survivor).Concat(StreamTestCluster.TopicsReadBy(doomed)).Order().SequenceEqual(Topics)),
            "the two silos share the topics, each read by one of them");
        var owned = StreamTestCluster.TopicsReadBy(doomed);
        Assume.That(owned, Is.Not.Empty, "the second silo reads at least one topic");
        var topic = owned.Order().First();
        var redisKey = $"{Prefix}:{topic}";
        var key = Guid.NewGuid().ToString("N");

        // The consumer holds on to the first delivery, so the owner's cursor stays on it and nothing is acknowledged.
        var inFlight = StreamSink.Close(key);
        await cluster.GrainFactory.GetGrain<IStreamPublisherGrain>(Guid.NewGuid()).PublishAsync(StreamTestCluster.Provider, topic, key, 0, count);
        await Eventually.UntilAsync(async () => await PendingCountAsync(redisKey) == count, "the owner read every entry and acknowledged none");

        StreamSink.Reopen(key);
        await cluster.KillSiloAsync(doomed); // also disposes its services, so its multiplexer: it can no longer read or acknowledge
        inFlight.SetResult(false); // the delivery it had in progress never completes
        IReadOnlyList<Delivery> received;
        try
        {
            received = await Eventually.HoldsAsync(
                () => Task.FromResult(StreamSink.Of(key)), d => d.DistinctBy(e => e.Number).Count() == count, TimeSpan.FromSeconds(60), "every event delivered");
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message}\n{await WhereItStoodAsync(survivor, topic, redisKey, key)}", timeout);
        }

        // At least once: a duplicate would be allowed, a loss or a reordering not. (None is expected here: nothing the
        // killed silo delivered was recorded.)
        var firsts = received.DistinctBy(d => d.Number).ToList();
        Assert.That(firsts.Select(d => d.Number), Is.EqualTo(Enumerable.Range(0, count)), "all of them, in order");
        Assert.That(firsts.Select(d => d.Token.EntryId), Is.EqualTo(await EntryIdsAsync(redisKey)));
        Assert.That(StreamTestCluster.TopicsReadBy(survivor), Does.Contain(topic));
        await Eventually.UntilAsync(async () => await PendingCountAsync(redisKey) == 0, "the new owner acknowledged them");
    }

    /// <summary>What a delivery that never came waited on: the topic's owner, the group's read position and pending entries, what was delivered.</summary>
    private async Task<string> WhereItStoodAsync(global::Orleans.TestingHost.SiloHandle survivor, string topic, string redisKey, string key)
    {
        var groups = await RedisServer.Database.StreamGroupInfoAsync(redisKey);
        var consumers = await RedisServer.Database.StreamConsumerInfoAsync(redisKey, StreamTestCluster.Provider);
        return $"the survivor reads {topic}: {StreamTestCluster.TopicsReadBy(survivor).Contains(topic)}; "
            + "groups: " + string.Join(", ", groups.Select(g => $"{g.Name} last delivered {g.LastDeliveredId}, {g.PendingMessageCount} pending"))
            + "; consumers: " + string.Join(", ", consumers.Select(c => $"{c.Name} {c.PendingMessageCount} pending, idle {c.IdleTimeInMilliseconds} ms"))
            + $"; delivered: {string.Join(" ", StreamSink.Of(key).Select(d => d.Number))}";
    }

    private async Task<long> PendingCountAsync(string key) =>
        (await RedisServer.Database.StreamPendingAsync(key, StreamTestCluster.Provider)).PendingMessageCount;

    private async Task<string[]> EntryIdsAsync(string key) =>
        [.. (await RedisServer.Database.StreamRangeAsync(key)).Select(entry => entry.Id.ToString())];
}
