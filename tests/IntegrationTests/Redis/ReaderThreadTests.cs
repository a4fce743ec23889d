using System.Diagnostics.Metrics;
using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

/// <summary>
/// The last caller completed by a read resumes on the connection's reader thread. These are the ways a
/// caller can misuse that thread, and what the connection does about each.
/// </summary>
public sealed class ReaderThreadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private RedisFixture _redis = null!;

    [OneTimeSetUp]
    public async Task StartRedis() => _redis = await RedisFixture.StartAsync();

    [OneTimeTearDown]
    public ValueTask StopRedis() => _redis.DisposeAsync();

    [Test]
    public async Task A_caller_resumed_on_the_reader_that_waits_synchronously_for_another_reply_gets_it_after_a_handoff()
    {
        var name = "blocker-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await _redis.ConnectAsync(o => o with { ClientName = name });
        using var handoffs = new HandoffCounter(name);

        var blocking = Task.Run(async () =>
        {
            await client.ExecuteAsync("PING").ConfigureAwait(false);
            // Resumed on the reader (the only reply of its read): waiting here holds the reader, so the
            // reply to this ECHO can only arrive through another thread that has taken over reading.
            return client.ExecuteAsync("ECHO", "after the handoff").GetAwaiter().GetResult().ToString();
        });

        Assert.That(await blocking.WaitAsync(Patience), Is.EqualTo("after the handoff"));
        Assert.That(handoffs.Count, Is.GreaterThanOrEqualTo(1), "the reply came through a new reader");
        Assert.That((await client.ExecuteAsync("ECHO", "still fine")).ToString(), Is.EqualTo("still fine"));
    }

    [Test]
    public async Task A_pipeline_caller_that_blocks_on_the_reader_does_not_lose_other_callers_replies()
    {
        var name = "pipeline-blocker-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await _redis.ConnectAsync(o => o with { ClientName = name });

        var blocking = Task.Run(async () =>
        {
            await client.ExecutePipelineAsync([new RedisCommand("PING"), new RedisCommand("PING")]).ConfigureAwait(false);
            return client.ExecutePipelineAsync([new RedisCommand("ECHO", "x")]).GetAwaiter().GetResult()[0].ToString();
        });
        var others = Enumerable.Range(0, 100).Select(i => Task.Run(() => client.ExecuteAsync("ECHO", i))).ToArray();

        Assert.That(await blocking.WaitAsync(Patience), Is.EqualTo("x"));
        var replies = await Task.WhenAll(others).WaitAsync(Patience);
        Assert.That(replies.Select(r => r.Integer), Is.EqualTo(Enumerable.Range(0, 100).Select(i => (long)i)));
    }

    [Test]
    public async Task Disposing_the_client_from_a_caller_resumed_on_its_reader_does_not_hang()
    {
        var client = await _redis.ConnectAsync();

        var disposed = Task.Run(async () =>
        {
            await client.ExecuteAsync("PING").ConfigureAwait(false);
            await client.DisposeAsync().ConfigureAwait(false);
        });

        await disposed.WaitAsync(Patience);
        Assert.That(() => client.ExecuteAsync("PING"), Throws.InstanceOf<ObjectDisposedException>().Or.InstanceOf<RedisConnectionException>());
    }

    [Test]
    public async Task A_caller_that_throws_on_the_reader_leaves_the_connection_working()
    {
        await using var client = await _redis.ConnectAsync();
        var id = (await client.ExecuteAsync("CLIENT", "ID")).Integer;

        var throwing = Task.Run(async () =>
        {
            await client.ExecuteAsync("PING").ConfigureAwait(false);
            throw new InvalidOperationException("the caller's own bug");
        });

        Assert.That(async () => await throwing, Throws.InvalidOperationException);
        Assert.That((await client.ExecuteAsync("CLIENT", "ID")).Integer, Is.EqualTo(id), "same connection, still alive");
    }

    /// <summary>Counts <c>redis.client.reader_handoffs</c> for one client name.</summary>
    private sealed class HandoffCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public HandoffCounter(string clientName)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == RedisMetrics.MeterName && instrument.Name == "redis.client.reader_handoffs") l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                if (tags.ToArray().Contains(new KeyValuePair<string, object?>("redis.client.name", clientName))) Interlocked.Add(ref _count, value);
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
