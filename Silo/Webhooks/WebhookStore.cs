using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// The durable side of webhook delivery, in Redis, so that deliveries outlive the silo that queued them:
/// <list type="bullet">
/// <item><c>webhook:{delivery id}</c> hash: url, body, event, attempts, status (pending, sending, retrying, delivered, failed), next_at</item>
/// <item><c>webhooks:due</c> zset delivery id → ms of the next attempt; a claim pushes the score one lease ahead, so a
/// delivery whose sender died falls due again by itself</item>
/// <item><c>webhooks:log:job:{id}</c>, <c>webhooks:log:workflow:{id}</c> capped lists of attempts as JSON</item>
/// </list>
/// Each step is one small script, so that enqueuing and acknowledging an event, claiming an attempt and
/// recording its outcome are each atomic; the attempt number fences out a sender that outlived its lease.
/// StackExchange.Redis runs them by SHA (EVALSHA), loading each once per server and again after a NOSCRIPT.
/// </summary>
public sealed class WebhookStore(IConnectionMultiplexer redis, IOptions<WebhookOptions> options)
{
    public const string DueKey = "webhooks:due";
    public const string DeliveryPrefix = "webhook:";
    private static readonly RedisKey Due = DueKey;

    /// <summary>How much longer than the HTTP timeout a claimed attempt stays reserved for its sender.</summary>
    public static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(5);

    private const string Now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    // KEYS: stream, webhook:{id}, webhooks:due. ARGV: group, entry id, delivery id, url, body, event, log key.
    private const string EnqueueScript = Now + """
        if redis.call('EXISTS', KEYS[2]) == 0 then
          redis.call('HSET', KEYS[2], 'id', ARGV[3], 'url', ARGV[4], 'body', ARGV[5], 'event', ARGV[6], 'log', ARGV[7],
            'attempts', 0, 'status', 'pending', 'created_ms', now, 'next_at', now)
          redis.call('ZADD', KEYS[3], now, ARGV[3])
        end
        return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        """;

    // KEYS: webhooks:due. ARGV: most to claim, lease ms.
    private const string ClaimScript = Now + """
        local ids = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
        local claimed = {}
        for _, id in ipairs(ids) do
          local key = 'webhook:' .. id
          local d = redis.call('HMGET', key, 'url', 'body', 'event', 'log', 'attempts')
          if not d[1] then
            redis.call('ZREM', KEYS[1], id)
          else
            local attempt = (tonumber(d[5]) or 0) + 1
            redis.call('HSET', key, 'attempts', attempt, 'status', 'sending', 'sending_since', now)
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
            claimed[#claimed + 1] = { id, attempt, d[1], d[2], d[3], d[4] }
          end
        end
        local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return { now, claimed, head[2] or '-1' }
        """;

    // KEYS: webhooks:due, webhook:{id}, log. ARGV: id, attempt, outcome, retry delay ms, log entry, log length,
    // retention ms, status code, error.
    private const string FinishScript = Now + """
        local d = redis.call('HMGET', KEYS[2], 'attempts', 'status')
        if tonumber(d[1]) ~= tonumber(ARGV[2]) or d[2] ~= 'sending' then return 0 end
        if ARGV[3] == 'retrying' then
          local at = now + tonumber(ARGV[4])
          redis.call('ZADD', KEYS[1], at, ARGV[1])
          redis.call('HSET', KEYS[2], 'status', 'retrying', 'next_at', at)
        else
          redis.call('ZREM', KEYS[1], ARGV[1])
          redis.call('HSET', KEYS[2], 'status', ARGV[3], 'finished_ms', now)
          redis.call('HDEL', KEYS[2], 'next_at')
          redis.call('PEXPIRE', KEYS[2], ARGV[7])
        end
        redis.call('HSET', KEYS[2], 'last_status_code', ARGV[8], 'last_error', ARGV[9])
        redis.call('RPUSH', KEYS[3], ARGV[5])
        redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1)
        redis.call('PEXPIRE', KEYS[3], ARGV[7])
        return 1
        """;

    // KEYS: webhooks:due, webhook:{id}. ARGV: id, attempt. Gives back an attempt a stopping silo did not make.
    private const string ReleaseScript = Now + """
        local d = redis.call('HMGET', KEYS[2], 'attempts', 'status')
        if tonumber(d[1]) ~= tonumber(ARGV[2]) or d[2] ~= 'sending' then return 0 end
        local attempts = tonumber(ARGV[2]) - 1
        redis.call('HSET', KEYS[2], 'attempts', attempts, 'status', attempts == 0 and 'pending' or 'retrying', 'next_at', now)
        redis.call('ZADD', KEYS[1], now, ARGV[1])
        return 1
        """;

    public static string LogKey(string kind, string id) => $"webhooks:log:{kind}:{id}";

    /// <summary>
    /// Queues a delivery for a stream entry and acknowledges the entry to the consumer group, in one step. A
    /// delivery that exists already (the entry was read before by a silo that died before acknowledging) is kept.
    /// </summary>
    public Task EnqueueAsync(string stream, string group, string entryId, string deliveryId, string url, ReadOnlyMemory<byte> body, string eventType, string logKey, CancellationToken cancellationToken) =>
        Database.ScriptEvaluateAsync(EnqueueScript, [stream, DeliveryPrefix + deliveryId, Due], [group, entryId, deliveryId, url, body, eventType, logKey]).WaitAsync(cancellationToken);

    /// <summary>Takes up to <paramref name="limit"/> due deliveries for one attempt each; no other silo gets them until <paramref name="lease"/> runs out.</summary>
    public async Task<DeliveryClaim> ClaimAsync(int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        var reply = await Database.ScriptEvaluateAsync(ClaimScript, [Due], [limit, (long)lease.TotalMilliseconds]).WaitAsync(cancellationToken).ConfigureAwait(false);
        var claimed = reply[1];
        var deliveries = new ClaimedDelivery[Math.Max(0, claimed.Length)];
        for (var i = 0; i < deliveries.Length; i++)
        {
            var d = claimed[i];
            deliveries[i] = new ClaimedDelivery(d[0].ToString(), (int)d[1], d[2].ToString(), (byte[]?)d[3] ?? [], d[4].ToString(), d[5].ToString());
        }
        // The head's score comes back as text, and may be fractional or -1 for none.
        var next = (long)double.Parse(reply[2].ToString(), CultureInfo.InvariantCulture);
        return new DeliveryClaim((long)reply[0], deliveries, next < 0 ? null : next);
    }

    /// <summary>
    /// Records how an attempt ended: in the delivery, in the log of its job or workflow, and in the schedule
    /// (again after <paramref name="retryDelay"/>, or no more). False if the attempt was no longer this sender's.
    /// </summary>
    public async Task<bool> FinishAsync(ClaimedDelivery delivery, string outcome, TimeSpan retryDelay, JsonObject logEntry, int? statusCode, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(logEntry);
        var o = options.Value;
        var reply = await Database.ScriptEvaluateAsync(FinishScript,
            [Due, DeliveryPrefix + delivery.Id, delivery.LogKey],
            [
                delivery.Id, delivery.Attempt, outcome, (long)retryDelay.TotalMilliseconds, logEntry.ToJsonString(), o.LogLength,
                (long)o.Retention.TotalMilliseconds, statusCode is { } code ? code.ToString(CultureInfo.InvariantCulture) : "", error ?? "",
            ]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)reply == 1;
    }

    /// <summary>Makes a claimed attempt that was never made due again at once, without counting it.</summary>
    public Task ReleaseAsync(ClaimedDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return Database.ScriptEvaluateAsync(ReleaseScript, [Due, DeliveryPrefix + delivery.Id], [delivery.Id, delivery.Attempt]).WaitAsync(cancellationToken);
    }

    /// <summary>The attempts logged for a job or workflow, oldest first.</summary>
    public async Task<JsonArray> ReadLogAsync(string kind, string id, CancellationToken cancellationToken)
    {
        var reply = await Database.ListRangeAsync(LogKey(kind, id)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var log = new JsonArray();
        foreach (var item in reply)
        {
            try
            {
                log.Add(JsonNode.Parse(item.ToString()));
            }
            catch (System.Text.Json.JsonException)
            {
                // Only this class writes the log; an unreadable entry is skipped rather than failing the whole answer.
            }
        }
        return log;
    }

    private IDatabase Database => redis.GetDatabase();
}
