using Cluster.Grains.Streaming;
using Cluster.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Streaming;

/// <summary>The Redis Streams provider on one silo and a real redis-server, one cluster for all the tests of the class.</summary>
public sealed class RedisStreamsTests : RedisServerTest
{
    private const string Prefix = "events"; // the default, so keys read as in production: events:{topic}
    private const string Group = StreamTestCluster.Provider; // the consumer group defaults to the provider's name
    private const int Pending = 5;
    private static readonly string[] Topics = ["test-order", "test-batch", "test-replay", "plain", "flat-jobs", "test-unread"];

    private TestCluster _cluster = null!;
    private readonly string _replayKey = Guid.NewGuid().ToString("N");
    private string[] _pendingIds = [];

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _pendingIds = await LeaveEntriesPendingAsAReaderThatDiedWould();
        _cluster = await StreamTestCluster.StartAsync(RedisServer, Prefix, Topics);
    }

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }

    private IStreamPublisherGrain Publisher => _cluster.GrainFactory.GetGrain<IStreamPublisherGrain>(Guid.NewGuid());

    [Test]
    public async Task Events_published_on_a_topic_arrive_in_publish_order_exactly_once_and_their_tokens_carry_the_redis_ids()
    {
        const int count = 200;
        var key = Guid.NewGuid().ToString("N");

        await Publisher.PublishAsync(StreamTestCluster.Provider, "test-order", key, 0, count);
        // One more event after the others: once it is in, every delivery of the others is (a topic is delivered in order).
        await Publisher.PublishAsync(StreamTestCluster.Provider, "test-order", key, count, 1);
        var received = await StreamSink.WaitForAsync(key, count + 1);

        Assert.That(received.Select(d => d.Number), Is.EqualTo(Enumerable.Range(0, count + 1)), "each event once, in publish order");
        Assert.That(received.Select(d => d.Namespace), Is.All.EqualTo("test-order"));
        Assert.That(received.Zip(received.Skip(1)).All(pair => pair.First.Token.CompareTo(pair.Second.Token) < 0), Is.True, "tokens increase");
        Assert.That(received.Select(d => d.Token.EntryId), Is.EqualTo(await EntryIdsAsync("events:test-order")),
            "each token names its entry of the topic's key, in the key's order");
        Assert.That(received.Select(d => d.Token.EventIndex), Is.All.EqualTo(0));
        await Eventually.UntilAsync(async () => await PendingCountAsync("events:test-order") == 0, "every delivered entry is acknowledged");
    }

    [Test]
    public async Task A_batch_published_in_one_call_is_one_redis_entry_whose_events_share_its_id()
    {
        var key = Guid.NewGuid().ToString("N");

        await Publisher.PublishBatchAsync(StreamTestCluster.Provider, "test-batch", key, [7, 8, 9]);
        var received = await StreamSink.WaitForAsync(key, 3);

        Assert.That(received.Select(d => d.Number), Is.EqualTo(new[] { 7, 8, 9 }));
        Assert.That(received.Select(d => d.Token.EventIndex), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(received.Select(d => d.Token.EntryId).Distinct(), Is.EqualTo(await EntryIdsAsync("events:test-batch")));
    }

    [Test]
    public async Task Entries_a_reader_took_and_never_acknowledged_are_delivered_by_the_silo_that_owns_the_topic_next()
    {
        // Arranged before the cluster started: a consumer named after the topic read them, as the owner of the topic does,
        // and died before acknowledging. This silo's receiver reads that pending list first.
        var received = await StreamSink.WaitForAsync(_replayKey, Pending);

        Assert.That(received.Select(d => d.Number), Is.EqualTo(Enumerable.Range(0, Pending)));
        Assert.That(received.Select(d => d.Token.EntryId), Is.EqualTo(_pendingIds));
        await Eventually.UntilAsync(async () => await PendingCountAsync("events:test-replay") == 0, "the redelivered entries are acknowledged");
    }

    [Test]
    public async Task A_capped_topic_stays_within_its_max_length_and_the_trimming_slack_of_redis()
    {
        const int published = 1000;
        const int nodeSlack = 100; // Redis trims whole nodes of stream-node-max-entries (100) entries under MAXLEN ~

        await Publisher.PublishAsync(StreamTestCluster.CappedProvider, "plain", Guid.NewGuid().ToString("N"), 0, published);
        var length = await Redis.StreamLengthAsync("events-capped:plain");

        Assert.That(length, Is.InRange(StreamTestCluster.CappedLength, StreamTestCluster.CappedLength + nodeSlack));
    }

    [Test]
    public async Task A_topic_left_out_of_the_read_topics_is_published_on_but_no_pulling_agent_reads_it()
    {
        var key = Guid.NewGuid().ToString("N");
        await Publisher.PublishAsync(StreamTestCluster.Provider, "test-unread", key, 0, 3);
        string[] read = [.. Topics.Where(t => t != "test-unread").Select(t => "events:" + t)];

        // Each pulling agent makes its topic's consumer group when it starts: once every read topic has one, all have started.
        await Eventually.UntilAsync(async () => (await Task.WhenAll(read.Select(GroupsAsync))).All(g => g.Contains(Group)),
            "every read topic has the provider's consumer group");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Redis.StreamLengthAsync("events:test-unread"), Is.EqualTo(3), "published");
            Assert.That(await GroupsAsync("events:test-unread"), Is.Empty, "no agent reads it");
            Assert.That(StreamSink.Of(key), Is.Empty, "its implicit subscriber is never called");
        }
    }

    [Test]
    public async Task Publishing_on_a_namespace_that_is_not_a_topic_fails_names_the_topics_and_writes_nothing()
    {
        var error = Assert.ThrowsAsync<ArgumentException>(() => Publisher.PublishAsync(StreamTestCluster.Provider, "nope", "1", 0, 1));

        Assert.That(error!.Message, Does.Contain("not on a topic").And.Contain("test-order"));
        Assert.That(await Redis.KeyExistsAsync("events:nope"), Is.False);
    }

    [Test]
    public async Task An_entry_written_flat_as_the_lua_functions_write_events_arrives_as_a_topic_event_on_the_topics_one_stream()
    {
        var job = Guid.NewGuid().ToString("N");
        // A flat entry: a type, then the event's fields by name.
        var id = (await Redis.StreamAddAsync("events:flat-jobs", [new("type", "job_completed"), new("job_id", job), new("status", "completed"), new("result", "{\"ok\":true}")])).ToString();

        var received = await Eventually.HoldsAsync(
            () => Task.FromResult(TopicEventRecorderGrain.Received.Where(r => r.Event.Fields.GetValueOrDefault("job_id") == job).ToList()),
            r => r.Count >= 1, TimeSpan.FromSeconds(30), "the flat event delivered");

        var (stream, e, token) = received.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(stream.ToString(), Is.EqualTo("flat-jobs/" + RedisStreamEntryFormat.TopicStreamKey));
            Assert.That(e.Type, Is.EqualTo("job_completed"));
            Assert.That(e.Fields, Is.EqualTo(new Dictionary<string, string> { ["job_id"] = job, ["status"] = "completed", ["result"] = "{\"ok\":true}" }));
            Assert.That(token.EntryId, Is.EqualTo(id), "its token is the entry's Redis id");
        }
        await Eventually.UntilAsync(async () => await PendingCountAsync("events:flat-jobs") == 0, "the delivered entry is acknowledged");
    }

    private IDatabase Redis => RedisServer.Database;

    private async Task<string[]> EntryIdsAsync(string key) =>
        [.. (await Redis.StreamRangeAsync(key)).Select(entry => entry.Id.ToString())];

    private async Task<string[]> GroupsAsync(string key) => [.. (await Redis.StreamGroupInfoAsync(key)).Select(g => g.Name!)];

    private async Task<long> PendingCountAsync(string key) => (await Redis.StreamPendingAsync(key, Group)).PendingMessageCount;

    /// <summary>
    /// Writes entries as the format's encoder makes them (as the outbox storage's script does, with the same fields) and reads them
    /// with the provider's group under the topic's consumer name without acknowledging them.
    /// </summary>
    private async Task<string[]> LeaveEntriesPendingAsAReaderThatDiedWould()
    {
        await using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(StreamTestEvent).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        const string key = "events:test-replay";
        var streamId = StreamId.Create("test-replay", _replayKey);
        for (var i = 0; i < Pending; i++)
        {
            await Redis.StreamAddAsync(key,
            [
                new(RedisStreamEntryFormat.StreamIdFieldName, RedisStreamEntryFormat.EncodeStreamId(streamId)),
                new(RedisStreamEntryFormat.EventsFieldName, RedisStreamEntryFormat.EncodeEvents([new StreamTestEvent(i)], serializer)),
            ]);
        }
        await Redis.StreamCreateConsumerGroupAsync(key, Group, "0", createStream: true);
        var read = await Redis.StreamReadGroupAsync(key, Group, "test-replay", StreamPosition.NewMessages, 100);
        var ids = read.Select(entry => entry.Id.ToString()).ToArray();
        Assert.That(await PendingCountAsync(key), Is.EqualTo(Pending), "arranged: read, not acknowledged");
        return ids;
    }
}
