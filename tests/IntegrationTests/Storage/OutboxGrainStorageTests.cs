using Cluster.Grains.Storage;
using Cluster.Grains.Streaming;
using Cluster.IntegrationTests.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Storage;

/// <summary>The outbox storage on a real redis-server: a state write, its events and its index changes are one step.</summary>
public sealed class OutboxGrainStorageTests : RedisServerTest
{
    private TestCluster _cluster = null!;
    private IConnectionMultiplexer _redis = null!;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 1);
        _redis = await ConnectionMultiplexer.ConnectAsync(RedisServer.ConnectionString);
    }

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        await _cluster.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private string Id() => "c-" + Guid.NewGuid().ToString("N")[..10];

    [Test]
    public async Task A_write_stores_the_state_and_appends_its_events_in_the_stream_entry_format()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);
        var before = await _redis.GetDatabase().StreamLengthAsync("events:jobs");

        var published = await counter.AddAsync(3);
        published = [.. published, .. await counter.AddAsync(4)];

        var entries = await _redis.GetDatabase().StreamRangeAsync("events:jobs", minId: published[0]);
        var serializer = _cluster.ServiceProvider.GetRequiredService<Serializer>();
        var decoded = entries.Select(e => RedisStreamEntryFormat.TryDecode(e, serializer, out var d) ? d : default).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _redis.GetDatabase().StreamLengthAsync("events:jobs"), Is.EqualTo(before + 2));
            Assert.That(entries.Select(e => e.Id.ToString()), Is.EqualTo(published), "the write reports the ids Redis gave its events");
            Assert.That(decoded.Select(d => d.StreamId.ToString()), Is.All.EqualTo("jobs/" + id));
            Assert.That(decoded.Select(d => ((CounterChanged)d.Events[0]!).Total), Is.EqualTo(new[] { 3, 7 }));
            Assert.That(await counter.GetAsync(), Is.EqualTo(7));
        }
    }

    [Test]
    public async Task The_index_changes_of_a_write_are_applied_with_it()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);

        await counter.AddAsync(5);
        var afterFirst = await _redis.GetDatabase().SortedSetScoreAsync("counters:by-total", id);
        await counter.AddAsync(1);
        var afterSecond = await _redis.GetDatabase().SortedSetScoreAsync("counters:by-total", id);

        Assert.That((afterFirst, afterSecond), Is.EqualTo(((double?)5, (double?)6)));
    }

    [Test]
    public async Task A_state_read_again_after_deactivation_is_the_one_written()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);
        await counter.AddAsync(9);

        await counter.DeactivateAsync();

        Assert.That(await _cluster.Client.GetGrain<IOutboxCounterGrain>(id).GetAsync(), Is.EqualTo(9));
    }

    [Test]
    public async Task A_stale_writer_is_refused_and_writes_neither_state_nor_events()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);
        await counter.AddAsync(1);
        var stateKey = $"{_cluster.Options.ServiceId}/state/outboxcounter/{id}";
        Assert.That(await _redis.GetDatabase().HashGetAsync(stateKey, "v"), Is.EqualTo((RedisValue)"1"), "precondition: the state's key and version");
        // Another activation wrote in between: the version moved on without this one knowing.
        await _redis.GetDatabase().HashIncrementAsync(stateKey, "v");
        var events = await _redis.GetDatabase().StreamLengthAsync("events:jobs");
        var index = await _redis.GetDatabase().SortedSetScoreAsync("counters:by-total", id);

        Assert.That(async () => await counter.AddAsync(10), Throws.InstanceOf<InconsistentStateException>());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _redis.GetDatabase().StreamLengthAsync("events:jobs"), Is.EqualTo(events), "no event for a refused write");
            Assert.That(await _redis.GetDatabase().SortedSetScoreAsync("counters:by-total", id), Is.EqualTo(index), "no index change either");
        }
    }

    [Test]
    public async Task A_history_keeps_the_last_events_with_the_ids_Redis_gave_them()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);
        var published = new List<string>();

        for (var i = 1; i <= Outbox.HistoryLength + 5; i++) published.AddRange(await counter.AddWithHistoryAsync(1));

        var entries = await counter.HistoryAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(entries, Has.Length.EqualTo(Outbox.HistoryLength), "trimmed to the last HistoryLength");
            Assert.That(entries.Select(e => e[..e.IndexOf(' ', StringComparison.Ordinal)]), Is.EqualTo(published.TakeLast(Outbox.HistoryLength)));
            Assert.That(entries[^1], Does.EndWith(" total " + (Outbox.HistoryLength + 5)));
        }
        await counter.DeactivateAsync();
        Assert.That(await counter.GetAsync(), Is.EqualTo(Outbox.HistoryLength + 5), "the state reads back beside its history");
    }

    [Test]
    public async Task A_counter_with_an_expiry_gets_it_from_the_increment_that_creates_it()
    {
        var id = Id();
        var counter = _cluster.Client.GetGrain<IOutboxCounterGrain>(id);
        var key = "counter:" + id + ":count";

        await counter.CountAsync(key, TimeSpan.FromMinutes(1));
        var first = await _redis.GetDatabase().KeyTimeToLiveAsync(key);
        // As if most of the expiry had passed: the next increment must not start it again.
        await _redis.GetDatabase().KeyExpireAsync(key, TimeSpan.FromSeconds(20));
        await counter.CountAsync(key, TimeSpan.FromMinutes(1));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.GreaterThan(TimeSpan.FromSeconds(50)).And.LessThanOrEqualTo(TimeSpan.FromMinutes(1)));
            Assert.That(await _redis.GetDatabase().KeyTimeToLiveAsync(key), Is.LessThanOrEqualTo(TimeSpan.FromSeconds(20)));
            Assert.That((long)await _redis.GetDatabase().StringGetAsync(key), Is.EqualTo(2));
        }
    }
}

public interface IOutboxCounterGrain : IGrainWithStringKey
{
    /// <summary>Adds to the total and returns the ids of the events the write published.</summary>
    Task<string[]> AddAsync(int amount);
    /// <summary>As <see cref="AddAsync(int)"/>, the event also kept in the grain's history as <c>"{id} total {n}"</c>.</summary>
    Task<string[]> AddWithHistoryAsync(int amount);
    /// <summary>The grain's history, oldest first.</summary>
    Task<string[]> HistoryAsync();
    /// <summary>Increments <paramref name="key"/> through the outbox, with an expiry.</summary>
    Task CountAsync(string key, TimeSpan expiry);
    Task<int> GetAsync();
    Task DeactivateAsync();
}

[GenerateSerializer, Alias("Cluster.Tests.CounterChanged")]
public sealed record CounterChanged([property: Id(0)] int Total);

[GenerateSerializer]
public sealed class CounterState : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    [Id(0)] public int Total { get; set; }
    public Outbox Outbox => _outbox ??= new();
}

public sealed class OutboxCounterGrain([PersistentState("counter", "outbox")] IPersistentState<CounterState> state) : Grain, IOutboxCounterGrain
{
    public async Task<string[]> AddAsync(int amount)
    {
        var id = this.GetPrimaryKeyString();
        state.State.Total += amount;
        state.State.Outbox.Publish("jobs", id, new CounterChanged(state.State.Total));
        state.State.Outbox.SortedSetAdd("counters:by-total", id, state.State.Total);
        await state.WriteStateAsync();
        return [.. state.State.Outbox.Published];
    }

    public async Task<string[]> AddWithHistoryAsync(int amount)
    {
        var id = this.GetPrimaryKeyString();
        state.State.Total += amount;
        state.State.Outbox.Publish("jobs", id, new CounterChanged(state.State.Total), "total " + state.State.Total);
        await state.WriteStateAsync();
        return [.. state.State.Outbox.Published];
    }

    public Task<string[]> HistoryAsync() =>
        ((OutboxGrainStorage)ServiceProvider.GetRequiredKeyedService<IGrainStorage>("outbox")).ReadHistoryAsync(this.GetGrainId());

    public async Task CountAsync(string key, TimeSpan expiry)
    {
        state.State.Outbox.Increment(key, 1, expiry);
        await state.WriteStateAsync();
    }

    public Task<int> GetAsync() => Task.FromResult(state.State.Total);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
