using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cluster.Grains.Redis;

namespace Cluster.IntegrationTests.Redis;

/// <summary>
/// The last caller completed by a read resumes on the connection's reader thread. These are the ways a
/// caller can misuse that thread, and what the connection does about each.
/// </summary>
public sealed class ReaderThreadTests : RedisServerTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Test]
    public async Task A_caller_resumed_on_the_reader_that_waits_synchronously_for_another_reply_gets_it_after_a_handoff()
    {
        var name = "blocker-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await RedisServer.ConnectAsync(o => o with { ClientName = name });
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
    public async Task A_caller_resumed_on_the_reader_that_waits_synchronously_for_a_later_reply_of_the_same_read_gets_it()
    {
        await using var client = await RedisServer.ConnectAsync();

        var blocking = Task.Run(async () =>
        {
            await client.ExecuteAsync("PING").ConfigureAwait(false);
            var first = client.ExecuteAsync("ECHO", "first");
            var second = client.ExecuteAsync("ECHO", "second");
            await first.ConfigureAwait(false);
            // Resumed on the reader with the reply to `second` already read but its caller not yet resumed:
            // whoever takes the reader role over must resume it.
            return second.GetAwaiter().GetResult().ToString();
        });

        Assert.That(await blocking.WaitAsync(Patience), Is.EqualTo("second"));
    }

    [Test]
    public async Task A_pipeline_caller_that_blocks_on_the_reader_does_not_lose_other_callers_replies()
    {
        var name = "pipeline-blocker-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await RedisServer.ConnectAsync(o => o with { ClientName = name });

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
        var client = await RedisServer.ConnectAsync();

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
        await using var client = await RedisServer.ConnectAsync();
        var id = (await client.ExecuteAsync("CLIENT", "ID")).Integer;

        var throwing = Task.Run(async () =>
        {
            await client.ExecuteAsync("PING").ConfigureAwait(false);
            throw new InvalidOperationException("the caller's own bug");
        });

        Assert.That(async () => await throwing, Throws.InvalidOperationException);
        Assert.That((await client.ExecuteAsync("CLIENT", "ID")).Integer, Is.EqualTo(id), "same connection, still alive");
    }

    [Test]
    public async Task Callers_that_take_long_are_spread_over_the_thread_pool_instead_of_queueing_on_the_reader()
    {
        await using var client = await RedisServer.ConnectAsync();

        // Sent together, so their replies arrive together; each caller then works for a millisecond,
        // twice the reader's budget for all callers of a read.
        async Task<int> Caller(int i)
        {
            await client.ExecuteAsync("ECHO", i).ConfigureAwait(false);
            var busyUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1000;
            while (Stopwatch.GetTimestamp() < busyUntil) { }
            return Environment.CurrentManagedThreadId;
        }
        var threads = await Task.WhenAll(Enumerable.Range(0, 50).Select(Caller)).WaitAsync(Patience);

        Assert.That(threads.Distinct().Count(), Is.GreaterThan(1), "every caller ran on the reader, one after another");
    }

    [Test]
    public async Task A_caller_holding_the_reader_does_not_hold_back_what_other_threads_send()
    {
        // No handoff in this test's lifetime: only the other thread itself can get its command out.
        await using var client = await RedisServer.ConnectAsync(o => o with { ReaderHandoffAfter = TimeSpan.FromHours(1) });
        var key = "held:" + Guid.NewGuid().ToString("N");
        using var seenByOthers = new ManualResetEventSlim();
        var pushedWhileHeld = false;
        for (var attempt = 1; ; attempt++)
        {
            var onReader = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var holder = Task.Run(async () =>
            {
                await client.ExecuteAsync("PING").ConfigureAwait(false);
                if (Thread.CurrentThread.Name?.StartsWith("redis-reader", StringComparison.Ordinal) != true)
                {
                    onReader.SetResult(false); // the reply beat the await; try again
                    return;
                }
                _ = client.ExecuteAsync("ECHO", "left for the reader to flush");
                onReader.SetResult(true);
                pushedWhileHeld = seenByOthers.Wait(Patience);
            });
            if (!await onReader.Task.WaitAsync(Patience))
            {
                Assert.That(attempt, Is.LessThan(20), "the caller never resumed on the reader");
                continue;
            }
            var watcher = RedisServer.Client.ExecuteBlockingAsync("BLPOP", [key, 30], CancellationToken.None);
            _ = client.ExecuteAsync("RPUSH", key, "x");
            await watcher.WaitAsync(Patience);
            seenByOthers.Set();
            await holder.WaitAsync(Patience);
            break;
        }

        Assert.That(pushedWhileHeld, Is.True, "the RPUSH waited for the caller holding the reader");
    }

    [Test]
    public async Task A_pipeline_with_a_missing_command_name_is_refused_and_the_connection_goes_on()
    {
        await using var client = await RedisServer.ConnectAsync();

        Assert.That(() => client.ExecutePipelineAsync([new RedisCommand("PING"), new RedisCommand(null!)]), Throws.InstanceOf<ArgumentException>());
        Assert.That((await client.ExecutePipelineAsync([new RedisCommand("SET", "empty", default(RedisArg)), new RedisCommand("STRLEN", "empty")]))[1].Integer,
            Is.Zero, "a default argument is an empty string");
        Assert.That((await client.ExecuteAsync("PING")).ToString(), Is.EqualTo("PONG"));
    }

    private static readonly AsyncLocal<string?> Ambient = new();

    [Test]
    public async Task A_message_handler_does_not_run_in_the_execution_context_of_whoever_subscribed()
    {
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        IAsyncDisposable subscription;
        Ambient.Value = "request-42";
        try
        {
            subscription = await RedisServer.Client.SubscribeAsync(["ambient"], (_, _) => seen.TrySetResult(Ambient.Value));
        }
        finally
        {
            Ambient.Value = null;
        }
        await using (subscription)
        {
            await RedisServer.Client.ExecuteAsync("PUBLISH", "ambient", "x");
            Assert.That(await seen.Task.WaitAsync(Patience), Is.Null, "the reader thread kept the subscriber's AsyncLocals");
        }
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
