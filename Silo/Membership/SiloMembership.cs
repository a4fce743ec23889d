using System.Globalization;
using Cluster.Grains.Redis;
using Cluster.Silo.Gateway;
using Cluster.Silo.Workers;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Cluster.Silo.Membership;

/// <summary>
/// Announces this silo to the cluster: every few seconds it refreshes <c>silo:{id}</c> (address, uptime,
/// connected workers and subscribers) and its score in the <c>silos</c> set, so the API and dashboard can
/// list the silos alive now. A silo that stops heartbeating drops out of the list by itself.
/// </summary>
public sealed partial class SiloMembership(IRedis redis, IServer server, JobDispatcher dispatcher, EventHub hub, ILogger<SiloMembership> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(20);

    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
    private readonly DateTime _started = DateTime.UtcNow;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var joined = false;
        try
        {
            do
            {
                try
                {
                    await HeartbeatAsync(stoppingToken);
                    if (!joined)
                    {
                        await redis.ExecuteAsync("XADD", ["events:silos", "MAXLEN", "~", 10_000, "*", "type", "silo_joined", "silo_id", Id], stoppingToken);
                        joined = true;
                    }
                }
                catch (RedisException e)
                {
                    LogHeartbeatFailed(e.Message);
                }
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        try
        {
            await redis.ExecuteAsync("ZREM", ["silos", Id]);
            await redis.ExecuteAsync("DEL", ["silo:" + Id]);
            await redis.ExecuteAsync("XADD", ["events:silos", "MAXLEN", "~", 10_000, "*", "type", "silo_left", "silo_id", Id]);
        }
        catch (RedisException)
        {
            // Redis is going away with us; the entry expires by itself.
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        await redis.ExecuteAsync("HSET",
        [
            "silo:" + Id, "id", Id, "host", Environment.MachineName, "pid", Environment.ProcessId,
            "addresses", string.Join(' ', addresses), "started_at", _started.ToString("O", CultureInfo.InvariantCulture),
            "last_seen", now.ToString("O", CultureInfo.InvariantCulture), "workers", dispatcher.ConnectedWorkers, "subscribers", hub.SubscriberCount,
            "memory_mb", Environment.WorkingSet / (1024 * 1024),
        ], cancellationToken);
        await redis.ExecuteAsync("PEXPIRE", ["silo:" + Id, (long)Expiry.TotalMilliseconds], cancellationToken);
        await redis.ExecuteAsync("ZADD", ["silos", now.ToUnixTimeMilliseconds(), Id], cancellationToken);
    }

    /// <summary>The silos whose heartbeat is recent, with what each reported.</summary>
    public static async Task<IReadOnlyList<Dictionary<string, string>>> ListAsync(IRedis redis, CancellationToken cancellationToken)
    {
        var cutoff = DateTimeOffset.UtcNow.Add(-Expiry).ToUnixTimeMilliseconds();
        await redis.ExecuteAsync("ZREMRANGEBYSCORE", ["silos", "-inf", cutoff], cancellationToken);
        var ids = await redis.ExecuteAsync("ZRANGE", ["silos", 0, -1], cancellationToken);
        var silos = await Task.WhenAll(ids.Items.Select(id => redis.ExecuteAsync("HGETALL", ["silo:" + id], cancellationToken)));
        return silos.Where(s => s.Items.Count > 0)
            .Select(s => s.ToDictionary().ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal))
            .ToArray();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Membership heartbeat failed: {Reason}")]
    private partial void LogHeartbeatFailed(string reason);
}
