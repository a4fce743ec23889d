using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>What the dashboard's totals show: jobs per status now, and jobs submitted, completed and failed per minute.</summary>
public sealed record ClusterStats(
    IReadOnlyDictionary<string, long> Jobs,
    IReadOnlyList<MinuteStats> PerMinute,
    long WorkersOnline,
    long Machines);

public sealed record MinuteStats(long Minute, long Submitted, long Completed, long Failed, long Dead);

public sealed class JobStats(IRedis redis)
{
    private static readonly string[] Kinds = ["submitted", "completed", "failed", "dead"];

    /// <summary>Every count comes from one pipelined round of O(1) commands, however large the cluster.</summary>
    public async Task<ClusterStats> GetAsync(int minutes = 15, CancellationToken cancellationToken = default)
    {
        minutes = Math.Clamp(minutes, 1, 120);
        var statuses = JobStatus.All.Order(StringComparer.Ordinal).ToArray();
        var counts = statuses.Select(s => redis.ExecuteAsync("ZCARD", ["jobs:status:" + s], cancellationToken)).ToArray();
        var timeReply = await redis.ExecuteAsync("TIME", [], cancellationToken).ConfigureAwait(false);
        var nowMinute = long.Parse(timeReply.Items[0].ToString(), System.Globalization.CultureInfo.InvariantCulture) / 60;
        var range = Enumerable.Range(0, minutes).Select(i => nowMinute - minutes + 1 + i).ToArray();
        var series = Kinds.Select(kind =>
            redis.ExecuteAsync("MGET", range.Select(m => (RedisArg)$"stats:{kind}:{m}").ToArray(), cancellationToken)).ToArray();
        var online = redis.ExecuteAsync("ZCARD", ["workers:heartbeats"], cancellationToken);
        var machines = redis.ExecuteAsync("ZCARD", ["machines"], cancellationToken);
        await Task.WhenAll([.. counts, .. series, online, machines]).ConfigureAwait(false);

        long At(int kind, int i) => series[kind].Result.Items[i] is { IsNull: false } v ? v.Integer : 0;
        return new ClusterStats(
            statuses.Select((s, i) => (s, counts[i].Result.Integer)).ToDictionary(p => p.s, p => p.Integer, StringComparer.Ordinal),
            range.Select((m, i) => new MinuteStats(m * 60_000, At(0, i), At(1, i), At(2, i), At(3, i))).ToArray(),
            online.Result.Integer,
            machines.Result.Integer);
    }
}
