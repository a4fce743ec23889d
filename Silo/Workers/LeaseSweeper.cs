using Cluster.Grains;
using Cluster.Grains.Redis;

namespace Cluster.Silo.Workers;

/// <summary>
/// Once per interval, cluster-wide, returns expired leases and timed-out jobs to the queue, declares silent
/// workers offline and promotes due retries. Every silo runs this loop; a key taken with SET NX PX for one
/// interval makes sure only one of them sweeps each time (as BullMQ guards its stalled-job check).
/// </summary>
public sealed partial class LeaseSweeper(IRedis redis, GrainFactory grains, ILogger<LeaseSweeper> logger) : BackgroundService
{
    private const string LockKey = "cluster:sweeper";
    private readonly string _owner = Guid.NewGuid().ToString("N");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = grains.Options.SweepInterval;
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                try
                {
                    var taken = await redis.ExecuteAsync("SET", [LockKey, _owner, "NX", "PX", (long)interval.TotalMilliseconds], stoppingToken);
                    if (taken.IsNull) continue;
                    var result = await grains.SweepAsync(stoppingToken);
                    if (result.Any) LogSwept(result.ExpiredLeases, result.TimedOut, result.WorkersLost, result.RetriesPromoted);
                }
                catch (RedisException e)
                {
                    LogSweepFailed(e.Message);
                }
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweep: {Expired} expired leases and {TimedOut} timed-out jobs returned, {Lost} workers declared offline, {Promoted} retries due")]
    private partial void LogSwept(int expired, int timedOut, int lost, int promoted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep skipped: {Reason}")]
    private partial void LogSweepFailed(string reason);
}
