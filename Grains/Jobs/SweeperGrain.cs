using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Jobs;

/// <summary>
/// Does what the timers of a dead silo's grains would have done. Live job grains act on their own timers; every sweep
/// interval this grain reads the due entries of the sets they keep in Redis and wakes the grains concerned, which
/// decide (a job whose lease was renewed in memory since, or a worker that heartbeated, stays as it is). Holds no
/// state; a reminder brings it back on another silo when its own dies.
/// </summary>
public sealed partial class SweeperGrain(ClusterGrainOptions options, IServiceProvider services, ILogger<SweeperGrain> logger)
    : Grain, ISweeperGrain, IRemindable
{
    /// <summary>Orleans' shortest reminder period: it only has to revive the grain, the timer does the sweeping.</summary>
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);
    /// <summary>The most entries of each set one sweep acts on.</summary>
    private const int Limit = 1000;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(static (grain, _) => grain.SweepOnTimerAsync(), this,
            new GrainTimerCreationOptions(options.SweepInterval, options.SweepInterval) { KeepAlive = true });
        await this.RegisterOrUpdateReminder("sweep", ReminderPeriod, ReminderPeriod);
    }

    public Task StartAsync() => Task.CompletedTask;

    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    public async Task<SweepCounts> SweepAsync()
    {
        var now = NowMs;
        var redis = services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var batch = redis.CreateBatch();
        var lapsed = Due(batch, "workers:heartbeats", now - (long)options.WorkerTimeout.TotalMilliseconds);
        var leases = Due(batch, "jobs:leases", now);
        var deadlines = Due(batch, "jobs:deadlines", now);
        var delayed = Due(batch, "jobs:delayed", now);
        batch.Execute();

        // Workers first: a lost worker's jobs are returned as WORKER_LOST rather than as expired leases.
        var workersLost = await CountAsync(await lapsed, id => GrainFactory.GetGrain<IWorkerControlGrain>(id).LapseAsync());
        var expired = await CountAsync(await leases, Wake);
        var timedOut = await CountAsync(await deadlines, Wake);
        var promoted = await CountAsync(await delayed, Wake);
        return new SweepCounts(expired, timedOut, workersLost, promoted);
    }

    private async Task SweepOnTimerAsync()
    {
        try
        {
            var swept = await SweepAsync();
            if (swept.ExpiredLeases + swept.TimedOut + swept.WorkersLost + swept.RetriesPromoted > 0)
                LogSwept(swept.ExpiredLeases, swept.TimedOut, swept.WorkersLost, swept.RetriesPromoted);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OrleansException)
        {
            LogSweepFailed(e); // the next interval tries again
        }
    }

    private static Task<RedisValue[]> Due(IBatch batch, string key, long untilMs) =>
        batch.SortedSetRangeByScoreAsync(key, double.NegativeInfinity, untilMs, take: Limit);

    private Task<bool> Wake(string jobId) => GrainFactory.GetGrain<IJobControlGrain>(jobId).WakeAsync();

    private static async Task<int> CountAsync(RedisValue[] ids, Func<string, Task<bool>> wake)
    {
        if (ids.Length == 0) return 0;
        var changed = await Task.WhenAll(ids.Select(id => wake(id.ToString())));
        return changed.Count(c => c);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Swept {Expired} expired leases, {TimedOut} timeouts, {WorkersLost} lost workers, {Promoted} due retries")]
    private partial void LogSwept(int expired, int timedOut, int workersLost, int promoted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A sweep failed; the next interval tries again")]
    private partial void LogSweepFailed(Exception exception);
}
