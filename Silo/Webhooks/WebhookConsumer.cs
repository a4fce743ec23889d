using Cluster.Grains;
using Cluster.Grains.Streams;
using Cluster.Silo.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// Turns job and workflow events into queued deliveries, each event exactly once however many silos run.
/// All silos are consumers of one Redis consumer group (<c>webhooks</c>) on <c>events:hooks</c>, where a job or
/// workflow with a webhook publishes the events it wants delivered, in the write that makes each
/// (<see cref="WebhookTargets"/>): each entry goes to one of them, which queues its delivery and acknowledges the
/// entry in the same script. Entries a silo read but never acknowledged (it died) are taken over with
/// XAUTOCLAIM by whichever silo looks next, once they have been idle for <see cref="WebhookOptions.ClaimIdleTime"/>;
/// the delivery id derives from the entry id, so reading an entry twice queues one delivery.
/// </summary>
/// <remarks>
/// <para>The group is created at the streams' current end (<c>$</c>): a new deployment delivers events from the
/// moment its first silo starts, and does not replay the history it finds. After that the group's cursor lives
/// in Redis, so events appended while every silo was down are delivered when one comes back.</para>
/// <para><b>Reads without BLOCK.</b> An <c>XREADGROUP BLOCK</c> would hold the connection it is sent on, and every
/// command of the silo's shared multiplexer goes down one connection. Instead the consumer reads without blocking
/// whenever the silo's <see cref="StreamTails"/>, which already wait on these streams with the silo's one blocking
/// read, see a new entry: an event is queued as soon as it is read, and an idle silo reads the group only as often
/// as its safety poll (at most every 5 s, for a wake-up lost while Redis was away). A second blocking connection per
/// silo for this loop would buy no lower latency.</para>
/// </remarks>
public sealed partial class WebhookConsumer(
    IConnectionMultiplexer redis, StreamTails tails, WebhookStore store, WebhookSender sender, IOptions<WebhookOptions> options,
    ILogger<WebhookConsumer> logger) : BackgroundService
{
    public const string Group = "webhooks";
    private const int BatchSize = 256;
    private static readonly TimeSpan DeadConsumerIdle = TimeSpan.FromHours(1);
    private static readonly TimeSpan SafetyPoll = TimeSpan.FromSeconds(5);
    private static readonly string[] Streams = [EventStreams.Hooks];
    private static readonly StreamPosition[] NewEntries = [.. Streams.Select(s => new StreamPosition(s, StreamPosition.NewMessages))];
    private static readonly RedisValue[] TargetFields = ["webhook_url", "webhook_events"];
    private readonly WakeSignal _wake = new();

    /// <summary>This silo's consumer name in the group, unique per process.</summary>
    public string Consumer { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();

    private IDatabase Database => redis.GetDatabase();

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        WebhookOptions o;
        try
        {
            o = options.Value;
        }
        catch (InvalidOperationException e)
        {
            throw new SiloStartupException($"invalid Webhooks configuration: {e.Message}", e);
        }
        if (o.Problem() is { } problem) throw new SiloStartupException(problem);
        if (!o.Enabled) return;
        // The group exists before the silo accepts its first request, so no event of a job submitted to it is missed.
        try
        {
            await EnsureGroupsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            LogReadFailed(e.Message, 0);
        }
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var claimEvery = o.ClaimIdleTime / 2;
        var poll = claimEvery < SafetyPoll ? claimEvery : SafetyPoll;
        var nextClaim = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(100);
        var subscriptions = Streams.Select(s => tails[s].Subscribe(_ => _wake.Wake())).ToArray();
        try
        {
            // Read only once the tails follow the streams: an entry appended after a read that found nothing then wakes the loop.
            await Task.WhenAll(Streams.Select(s => tails[s].Started)).WaitAsync(stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (DateTime.UtcNow >= nextClaim)
                    {
                        await ReclaimAsync(o.ClaimIdleTime, stoppingToken).ConfigureAwait(false);
                        nextClaim = DateTime.UtcNow + claimEvery;
                    }
                    var read = 0;
                    var batches = await Database.StreamReadGroupAsync(NewEntries, Group, Consumer, BatchSize, CommandFlags.None).WaitAsync(stoppingToken).ConfigureAwait(false);
                    foreach (var batch in batches)
                    {
                        if (batch.Entries.Length == 0) continue;
                        read += batch.Entries.Length;
                        await HandleAsync(batch.Key.ToString(), batch.Entries, stoppingToken).ConfigureAwait(false);
                    }
                    delay = TimeSpan.FromMilliseconds(100);
                    if (read > 0) continue; // there may be more
                    var untilClaim = nextClaim - DateTime.UtcNow;
                    await _wake.WaitAsync(untilClaim < poll ? (untilClaim > TimeSpan.Zero ? untilClaim : TimeSpan.Zero) : poll, stoppingToken).ConfigureAwait(false);
                }
                catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
                {
                    // The streams or the group were deleted (FLUSHALL, a restored backup): start again from now.
                    try
                    {
                        await EnsureGroupsAsync(stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception again) when (again is RedisException or RedisTimeoutException or OperationCanceledException)
                    {
                        await WebhookSender.Pause(delay, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is RedisException or RedisTimeoutException)
                {
                    LogReadFailed(e.Message, (long)delay.TotalMilliseconds);
                    await WebhookSender.Pause(delay, stoppingToken).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var subscription in subscriptions) subscription.Dispose();
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    private async Task EnsureGroupsAsync(CancellationToken cancellationToken)
    {
        foreach (var stream in Streams)
        {
            try
            {
                await Database.StreamCreateConsumerGroupAsync(stream, Group, "$", createStream: true).WaitAsync(cancellationToken).ConfigureAwait(false);
                LogGroupCreated(Group, stream);
            }
            catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
            {
                // created by another silo, or by this one before a restart
            }
        }
    }

    /// <summary>Takes over entries other consumers read but did not acknowledge in time, and forgets long-gone consumers.</summary>
    private async Task ReclaimAsync(TimeSpan minIdle, CancellationToken cancellationToken)
    {
        foreach (var stream in Streams)
        {
            RedisValue start = "0-0";
            for (var round = 0; round < 100; round++)
            {
                var claimed = await Database.StreamAutoClaimAsync(stream, Group, Consumer, (long)minIdle.TotalMilliseconds, start, BatchSize).WaitAsync(cancellationToken).ConfigureAwait(false);
                // Entries deleted while pending come back empty (before Redis 7) or only among the deleted ids.
                var entries = Array.FindAll(claimed.ClaimedEntries, e => !e.IsNull && e.Values.Length > 0);
                if (entries.Length > 0)
                {
                    LogReclaimed(entries.Length, stream);
                    await HandleAsync(stream, entries, cancellationToken).ConfigureAwait(false);
                }
                start = claimed.NextStartId;
                if (start == "0-0") break;
            }
            await ForgetDeadConsumersAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    // Every silo process joins under a new name; names of silos gone for an hour with nothing pending are removed.
    private async Task ForgetDeadConsumersAsync(string stream, CancellationToken cancellationToken)
    {
        var consumers = await Database.StreamConsumerInfoAsync(stream, Group).WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var consumer in consumers)
        {
            var name = consumer.Name;
            if (string.IsNullOrEmpty(name) || name == Consumer) continue;
            if (consumer.PendingMessageCount == 0 && consumer.IdleTimeInMilliseconds > (long)DeadConsumerIdle.TotalMilliseconds)
                await Database.StreamDeleteConsumerAsync(stream, Group, name).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(string stream, StackExchange.Redis.StreamEntry[] entries, CancellationToken cancellationToken)
    {
        var database = Database;
        var events = StreamTail.Parse(stream, entries);
        var candidates = events.Select(e => (Event: e, Subject: WebhookEvents.Subject(e))).ToArray();
        // Look up the webhook of every event that may need one at once: the multiplexer pipelines them.
        var lookups = await Task.WhenAll(candidates.Select(c => c.Subject is { } s
            ? database.HashGetAsync(WebhookTargets.Key(s.Kind, s.Id), TargetFields)
            : Task.FromResult<RedisValue[]>([]))).WaitAsync(cancellationToken).ConfigureAwait(false);

        var acknowledge = new List<RedisValue>();
        var enqueues = new List<Task>();
        for (var i = 0; i < candidates.Length; i++)
        {
            var (e, subject) = candidates[i];
            var url = lookups[i].Length == 0 ? null : (string?)lookups[i][0];
            if (subject is not { } s || string.IsNullOrEmpty(url) || !WebhookEvents.Wanted(e.Type, (string?)lookups[i][1]))
            {
                acknowledge.Add(e.Id);
                continue;
            }
            // Sent together, as the lookups were: each enqueue is idempotent, and an entry left unacknowledged is reclaimed.
            enqueues.Add(EnqueueAsync(stream, e, s, url, cancellationToken));
        }
        await Task.WhenAll(enqueues).ConfigureAwait(false);
        if (acknowledge.Count > 0) await database.StreamAcknowledgeAsync(stream, Group, [.. acknowledge]).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (enqueues.Count > 0) sender.Wake();
    }

    private async Task EnqueueAsync(string stream, StreamEvent e, (string Kind, string Id) s, string url, CancellationToken cancellationToken)
    {
        var deliveryId = WebhookEvents.DeliveryId(e);
        await store.EnqueueAsync(stream, Group, e.Id, deliveryId, url, WebhookEvents.Body(e, s.Kind, deliveryId), e.Type, WebhookStore.LogKey(s.Kind, s.Id), cancellationToken).ConfigureAwait(false);
        LogQueued(deliveryId, e.Type, s.Kind, s.Id);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created consumer group {Group} on {Stream} at its current end")]
    private partial void LogGroupCreated(string group, string stream);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took over {Count} unacknowledged events of {Stream} from a silo that stopped reading")]
    private partial void LogReclaimed(int count, string stream);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queued webhook delivery {DeliveryId} for {Event} of {Kind} {Id}")]
    private partial void LogQueued(string deliveryId, string @event, string kind, string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading events for webhooks failed ({Reason}); retrying in {DelayMs} ms")]
    private partial void LogReadFailed(string reason, long delayMs);
}
