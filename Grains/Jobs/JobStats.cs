using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using StackExchange.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>What the dashboard's totals show: jobs per status now, and jobs submitted, completed and failed per minute.</summary>
public sealed record ClusterStats(
    IReadOnlyDictionary<string, long> Jobs,
    IReadOnlyList<MinuteStats> PerMinute,
    long WorkersOnline,
    long Machines);

public sealed record MinuteStats(long Minute, long Submitted, long Completed, long Failed, long Dead);

public sealed class JobStats(IConnectionMultiplexer redis)
{
    private static readonly string[] Kinds = ["submitted", "completed", "failed", "dead"];

    /// <summary>Every count comes from one pipelined round of O(1) commands, however large the cluster.</summary>
    public async Task<ClusterStats> GetAsync(int minutes = 15, CancellationToken cancellationToken = default)
    {
        minutes = Math.Clamp(minutes, 1, 120);
        var database = redis.GetDatabase();
        var statuses = JobStatus.All.Order(StringComparer.Ordinal).ToArray();
        // Sent before TIME's reply is awaited, so that the multiplexer pipelines them with it.
        var counts = statuses.Select(s => database.SortedSetLengthAsync("jobs:status:" + s)).ToArray();
        var online = database.SortedSetLengthAsync("workers:heartbeats");
        var machines = database.SortedSetLengthAsync("machines");
        var time = await database.ExecuteAsync("TIME").WaitAsync(cancellationToken).ConfigureAwait(false);
        var nowMinute = long.Parse(time[0].ToString(), CultureInfo.InvariantCulture) / 60;
        var range = Enumerable.Range(0, minutes).Select(i => nowMinute - minutes + 1 + i).ToArray();
        var series = Kinds.Select(kind =>
            database.StringGetAsync(range.Select(m => (RedisKey)$"stats:{kind}:{m}").ToArray())).ToArray();
        await Task.WhenAll([.. counts, .. series, online, machines]).WaitAsync(cancellationToken).ConfigureAwait(false);

        long At(int kind, int i) => series[kind].Result[i] is { IsNull: false } v ? (long)v : 0;
        return new ClusterStats(
            statuses.Select((s, i) => (s, counts[i].Result)).ToDictionary(p => p.s, p => p.Item2, StringComparer.Ordinal),
            range.Select((m, i) => new MinuteStats(m * 60_000, At(0, i), At(1, i), At(2, i), At(3, i))).ToArray(),
            online.Result,
            machines.Result);
    }
}
