using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>
/// Reads one topic's key for the pulling agent that owns the topic, with a consumer group, and acknowledges entries once
/// Orleans has delivered them.
/// </summary>
/// <remarks>
/// <para><b>At least once.</b> Entries are read with <c>XREADGROUP</c>, which puts them in the group's pending entries
/// list (PEL), and acknowledged with <c>XACK</c> only in <see cref="MessagesDeliveredAsync"/>, which the agent calls
/// with the entries its cache let go of once every consumer's cursor has passed them. An entry whose delivery failed
/// is not handed back and stays pending.</para>
/// <para><b>Taking over a dead silo's queue.</b> The consumer name is the topic, not the silo: whichever silo owns the
/// topic reads as the same consumer, so the entries a dead owner read but never acknowledged are in the pending list of
/// the very consumer the new owner is. <see cref="Initialize"/> therefore starts reading at id <c>0</c> (this consumer's
/// pending entries, oldest first), pages through them, and only then switches to <c>&gt;</c> (entries never read).
/// Those pending entries are all older than the unread ones, so the topic's order holds across the takeover. The
/// alternative, a consumer per silo and <c>XAUTOCLAIM</c>, needs an idle time that trades the delay of redelivery against
/// stealing from a live but slow owner, and leaves a consumer per silo incarnation to clean up; the agent manager already
/// guarantees one owner per queue, so a per-queue consumer needs no timing guess. The price: a handoff redelivers what
/// the previous owner delivered after its last acknowledgement (consumers are idempotent), and an entry that can never
/// be delivered stays pending and comes back at each handoff, logged each time.</para>
/// <para>The receiver is called by one agent at a time and never concurrently; it does no blocking I/O.</para>
/// </remarks>
internal sealed partial class RedisStreamQueueReceiver : IQueueAdapterReceiver
{
    private static readonly RedisValue PendingStart = "0-0";
    private static readonly RedisValue NewEntries = ">";

    private readonly IDatabase _database;
    private readonly Serializer _serializer;
    private readonly TopicQueueMapper.Topic _topic;
    private readonly RedisValue _group;
    private readonly RedisValue _consumer;
    private readonly int _batchSize;
    private readonly ILogger _logger;
    private readonly Action _onShutdown;

    private RedisValue _position = PendingStart;
    private bool _groupReady;
    private bool _shutDown;
    private List<RedisValue>? _unacknowledged;
    private StreamId? _lastStreamId;
    private int _failures; // Redis calls failed in a row: one warning per outage, not one per attempt

    public RedisStreamQueueReceiver(IDatabase database, Serializer serializer, TopicQueueMapper.Topic topic, string group, int batchSize, ILogger logger, Action onShutdown)
    {
        _database = database;
        _serializer = serializer;
        _topic = topic;
        _group = group;
        _consumer = topic.Name;
        _batchSize = batchSize;
        _logger = logger;
        _onShutdown = onShutdown;
    }

    public Task Initialize(TimeSpan timeout) => Initialize(timeout, CancellationToken.None);

    public async Task Initialize(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // If this fails (Redis down), the agent starts pumping anyway and the first read creates the group.
        _position = PendingStart;
        await EnsureGroupAsync().ConfigureAwait(false);
    }

#pragma warning disable CS0618 // The legacy overloads are still part of the interface.
    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount) => GetQueueMessagesAsync(maxCount, CancellationToken.None);

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) => MessagesDeliveredAsync(messages, CancellationToken.None);
#pragma warning restore CS0618

    public Task Shutdown(TimeSpan timeout) => Shutdown(timeout, CancellationToken.None);

    public async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        // A read is not cancelled once sent: its entries would sit in the pending list unseen until the next handoff.
        if (_shutDown || cancellationToken.IsCancellationRequested) return [];
        if (_unacknowledged is not null) await AcknowledgeAsync([]).ConfigureAwait(false);
        StreamEntry[] entries;
        try
        {
            entries = await ReadAsync(maxCount > 0 ? Math.Min(maxCount, _batchSize) : _batchSize).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Not thrown to the agent, which would wait 10 to 20 s before its next attempt: the next timer tick (0.1 s
            // by default) tries again.
            Failed(e, "read");
            return [];
        }
        Succeeded();
        return entries.Length == 0 ? [] : await DecodeAsync(entries).ConfigureAwait(false);
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0 && _unacknowledged is null) return Task.CompletedTask;
        var ids = new List<RedisValue>(messages.Count);
        foreach (var message in messages)
            if (message is RedisStreamBatchContainer { RedisEntryId.IsNull: false } container) ids.Add(container.RedisEntryId);
        return AcknowledgeAsync(ids);
    }

    public async Task Shutdown(TimeSpan timeout, CancellationToken cancellationToken)
    {
        _shutDown = true;
        _onShutdown();
        // Acknowledgements that failed earlier: delivered entries the next owner need not deliver again.
        if (_unacknowledged is not null && !cancellationToken.IsCancellationRequested) await AcknowledgeAsync([]).ConfigureAwait(false);
    }

    /// <summary>The next entries: this consumer's pending ones first (see the remarks), then new ones.</summary>
    private async Task<StreamEntry[]> ReadAsync(int count)
    {
        if (!_groupReady) await EnsureGroupAsync().ConfigureAwait(false);
        var entries = await ReadGroupAsync(count).ConfigureAwait(false);
        if (_position == NewEntries) return entries;
        if (entries.Length == 0)
        {
            _position = NewEntries; // the pending list is drained: read what nobody has read yet
            return await ReadGroupAsync(count).ConfigureAwait(false);
        }
        _position = entries[^1].Id;
        LogRedelivering(_logger, entries.Length, _topic.Key.ToString());
        return entries;
    }

    private async Task<StreamEntry[]> ReadGroupAsync(int count)
    {
        try
        {
            return await _database.StreamReadGroupAsync(_topic.Key, _group, _consumer, _position, count).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // The key or its group is gone (deleted, or a server restarted without persistence): nothing is pending any more.
            LogGroupMissing(_logger, _topic.Key.ToString(), _group.ToString());
            _groupReady = false;
            await EnsureGroupAsync().ConfigureAwait(false);
            _position = NewEntries;
            return await _database.StreamReadGroupAsync(_topic.Key, _group, _consumer, _position, count).ConfigureAwait(false);
        }
    }

    private async Task<IList<IBatchContainer>> DecodeAsync(StreamEntry[] entries)
    {
        var batch = new List<IBatchContainer>(entries.Length);
        List<RedisValue>? foreign = null;
        foreach (var entry in entries)
        {
            try
            {
                if (RedisStreamEntryFormat.TryDecode(entry, _serializer, out var decoded, _lastStreamId, _topic.Name))
                {
                    _lastStreamId = decoded.StreamId;
                    batch.Add(new RedisStreamBatchContainer(decoded, entry.Id));
                }
                else
                {
                    // No fields of this format: trimmed while pending, or written by something else. Nobody can ever deliver it.
                    (foreign ??= []).Add(entry.Id);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Ours but unreadable here (an event type this silo does not know, during a rolling upgrade say):
                // left pending, so that the next owner of the topic tries again.
                LogUndecodable(_logger, e, entry.Id.ToString(), _topic.Key.ToString());
            }
        }
        if (foreign is not null)
        {
            LogSkipped(_logger, foreign.Count, _topic.Key.ToString(), foreign[0].ToString());
            await AcknowledgeAsync(foreign).ConfigureAwait(false);
        }
        return batch;
    }

    /// <summary>XACKs <paramref name="ids"/> and any left from a failed attempt; on failure keeps them all for the next call.</summary>
    private async Task AcknowledgeAsync(List<RedisValue> ids)
    {
        if (_unacknowledged is { } retry)
        {
            retry.AddRange(ids);
            ids = retry;
            _unacknowledged = null;
        }
        if (ids.Count == 0) return;
        try
        {
            await _database.StreamAcknowledgeAsync(_topic.Key, _group, [.. ids]).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Not thrown: a read must not lose its entries over a failed acknowledgement. If this silo dies before
            // the next attempt, the topic's next owner finds these entries pending and delivers them again.
            Failed(e, $"acknowledge {ids.Count} delivered entries of");
            _unacknowledged = ids;
            return;
        }
        Succeeded();
    }

    private async Task EnsureGroupAsync()
    {
        try
        {
            // From 0, not $: entries added before any silo read the topic (at first start, or by a Lua script) are delivered.
            await _database.StreamCreateConsumerGroupAsync(_topic.Key, _group, PendingStart, createStream: true).ConfigureAwait(false);
            LogGroupCreated(_logger, _group.ToString(), _topic.Key.ToString());
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Another silo, or an earlier life of this queue, created it.
        }
        _groupReady = true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created consumer group {Group} on {Key}")]
    private static partial void LogGroupCreated(ILogger logger, string group, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Key} has no consumer group {Group} any more (deleted, or Redis restarted without persistence); created it again")]
    private static partial void LogGroupMissing(ILogger logger, string key, string group);

    private void Failed(Exception exception, string operation)
    {
        if (_failures++ == 0) LogRedisFailed(_logger, exception, operation, _topic.Key.ToString());
        else LogRedisFailedAgain(_logger, operation, _topic.Key.ToString(), exception.Message);
    }

    private void Succeeded()
    {
        if (_failures == 0) return;
        LogRedisBack(_logger, _topic.Key.ToString(), _failures);
        _failures = 0;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Operation} {Key}; trying again at every poll until Redis answers")]
    private static partial void LogRedisFailed(ILogger logger, Exception exception, string operation, string key);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not {Operation} {Key} again: {Reason}")]
    private static partial void LogRedisFailedAgain(ILogger logger, string operation, string key, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis answers about {Key} again, after {Failures} failed calls")]
    private static partial void LogRedisBack(ILogger logger, string key, int failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivering {Count} entries of {Key} that were read but not acknowledged before this silo took the topic")]
    private static partial void LogRedelivering(ILogger logger, int count, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Acknowledged without delivering {Count} entries of {Key} that carry no event (trimmed by MAXLEN while pending, or not written by this provider), the first {EntryId}")]
    private static partial void LogSkipped(ILogger logger, int count, string key, string entryId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Entry {EntryId} of {Key} cannot be read here; it stays pending for the topic's next owner")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, string entryId, string key);
}
