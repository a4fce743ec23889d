using Cluster.Grains;
using Cluster.Grains.Redis;
using Cluster.Grains.Streams;
using Cluster.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// Turns job and workflow events into queued deliveries, each event exactly once however many silos run.
/// All silos are consumers of one Redis consumer group (<c>webhooks</c>) on <c>events:jobs</c> and
/// <c>events:workflows</c>: each entry goes to one of them, which queues its delivery and acknowledges the
/// entry in the same script. Entries a silo read but never acknowledged (it died) are taken over with
/// XAUTOCLAIM by whichever silo looks next, once they have been idle for <see cref="WebhookOptions.ClaimIdleTime"/>;
/// the delivery id derives from the entry id, so reading an entry twice queues one delivery.
/// </summary>
/// <remarks>
/// The group is created at the streams' current end (<c>$</c>): a new deployment delivers events from the
/// moment its first silo starts, and does not replay the history it finds. After that the group's cursor lives
/// in Redis, so events appended while every silo was down are delivered when one comes back.
/// </remarks>
public sealed partial class WebhookConsumer(
    IRedis redis, WebhookStore store, WebhookSender sender, IOptions<WebhookOptions> options, IOptions<ClusterOptions> cluster, ILogger<WebhookConsumer> logger) : BackgroundService
{
    public const string Group = "webhooks";
    private const int BatchSize = 256;
    private static readonly TimeSpan DeadConsumerIdle = TimeSpan.FromHours(1);
    private static readonly string[] Streams = [EventStreams.Jobs, WebhookEvents.WorkflowStream];

    /// <summary>This silo's consumer name in the group, unique per process.</summary>
    public string Consumer { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();

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
        catch (RedisException e)
        {
            LogReadFailed(e.Message, 0);
        }
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var claimEvery = o.ClaimIdleTime / 2;
        var block = claimEvery < TimeSpan.FromSeconds(5) ? claimEvery : TimeSpan.FromSeconds(5);
        var nextClaim = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(100);
        var streams = Streams.Select(s => (s, ">")).ToArray();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (DateTime.UtcNow >= nextClaim)
                {
                    await ReclaimAsync(o.ClaimIdleTime, stoppingToken).ConfigureAwait(false);
                    nextClaim = DateTime.UtcNow + claimEvery;
                }
                var batches = await redis.XReadGroupAsync(Group, Consumer, streams, BatchSize, block, cancellationToken: stoppingToken).ConfigureAwait(false);
                foreach (var batch in batches) await HandleAsync(batch.Stream, batch.Entries, stoppingToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(100);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RedisServerException e) when (e.Code == "NOGROUP")
            {
                // The streams or the group were deleted (FLUSHALL, a restored backup): start again from now.
                try
                {
                    await EnsureGroupsAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception again) when (again is RedisException or OperationCanceledException)
                {
                    await WebhookSender.Pause(delay, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (RedisException e)
            {
                LogReadFailed(e.Message, (long)delay.TotalMilliseconds);
                await WebhookSender.Pause(delay, stoppingToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task EnsureGroupsAsync(CancellationToken cancellationToken)
    {
        foreach (var stream in Streams)
            if (await redis.XGroupCreateAsync(stream, Group, "$", makeStream: true, cancellationToken).ConfigureAwait(false))
                LogGroupCreated(Group, stream);
    }

    /// <summary>Takes over entries other consumers read but did not acknowledge in time, and forgets long-gone consumers.</summary>
    private async Task ReclaimAsync(TimeSpan minIdle, CancellationToken cancellationToken)
    {
        foreach (var stream in Streams)
        {
            var start = "0-0";
            for (var round = 0; round < 100; round++)
            {
                var claimed = await redis.XAutoClaimAsync(stream, Group, Consumer, minIdle, start, BatchSize, cancellationToken).ConfigureAwait(false);
                if (claimed.Claimed.Count > 0)
                {
                    LogReclaimed(claimed.Claimed.Count, stream);
                    await HandleAsync(stream, claimed.Claimed, cancellationToken).ConfigureAwait(false);
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
        var consumers = await redis.ExecuteAsync("XINFO", ["CONSUMERS", stream, Group], cancellationToken).ConfigureAwait(false);
        foreach (var consumer in consumers.Items)
        {
            var info = consumer.ToDictionary();
            var name = info.TryGetValue("name", out var n) ? n.ToString() : "";
            if (name.Length == 0 || name == Consumer) continue;
            if (info.TryGetValue("pending", out var pending) && pending.Integer == 0
                && info.TryGetValue("idle", out var idle) && idle.Integer > (long)DeadConsumerIdle.TotalMilliseconds)
                await redis.ExecuteAsync("XGROUP", ["DELCONSUMER", stream, Group, name], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(string stream, IReadOnlyList<StreamEntry> entries, CancellationToken cancellationToken)
    {
        var events = entries.Select(e => new StreamEvent(stream, e.Id, e.Fields.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal))).ToArray();
        var candidates = events.Select(e => (Event: e, Subject: WebhookEvents.Subject(e))).ToArray();
        // Look up the webhook of every event that may need one at once: the client pipelines them.
        var lookups = await Task.WhenAll(candidates.Select(c => c.Subject is { } s
            ? redis.ExecuteAsync("HMGET", [WebhookTargets.Key(cluster.Value.Engine, s.Kind, s.Id), "webhook_url", "webhook_events"], cancellationToken)
            : Task.FromResult(RespValue.Null))).ConfigureAwait(false);

        var acknowledge = new List<RedisArg>();
        var enqueues = new List<Task>();
        for (var i = 0; i < candidates.Length; i++)
        {
            var (e, subject) = candidates[i];
            var url = lookups[i].IsNull ? null : lookups[i].Items[0].AsString();
            if (subject is not { } s || string.IsNullOrEmpty(url) || !WebhookEvents.Wanted(e.Type, lookups[i].Items[1].AsString()))
            {
                acknowledge.Add(e.Id);
                continue;
            }
            // Sent together, as the lookups were: each enqueue is idempotent, and an entry left unacknowledged is reclaimed.
            enqueues.Add(EnqueueAsync(stream, e, s, url, cancellationToken));
        }
        await Task.WhenAll(enqueues).ConfigureAwait(false);
        if (acknowledge.Count > 0) await redis.XAckAsync(stream, Group, [.. acknowledge], cancellationToken).ConfigureAwait(false);
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
