using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using StackExchange.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>
/// A page of jobs from the listing indexes the job grains keep (<c>jobs:status:{s}</c>, <c>jobs:type:{t}</c>, …, scored by
/// the job's sequence); only how a job is loaded differs between them. All jobs are the merge of the status indexes, which
/// hold each job exactly once, rather than an index of their own that every job's submission would also write.
/// </summary>
internal static class JobListing
{
    private static readonly RedisKey[] StatusIndexes = [.. JobStatus.All.Select(s => (RedisKey)("jobs:status:" + s))];

    /// <summary>Loads the jobs of <c>ids</c>, in order; null for one that does not exist.</summary>
    public delegate Task<JobState?[]> Loader(string[] ids, CancellationToken cancellationToken);

    /// <summary>
    /// Walks the most selective index newest first, from the cursor (a job's sequence number), and checks
    /// the remaining filters on each job. A page looks at no more than ten pages' worth of candidates,
    /// so a rare combination of filters yields a short page with a cursor rather than a long scan.
    /// </summary>
    public static async Task<Page<JobState>> ListAsync(IDatabase redis, JobQuery query, Loader load, CancellationToken cancellationToken)
    {
        var limit = Math.Clamp(query.Limit, 1, JobLimits.MaxListLimit);
        var index = query switch
        {
            { WorkflowId: { } w } => "jobs:workflow:" + w,
            { WorkerId: { } w } => "jobs:worker:" + w,
            { MachineId: { } m } => "jobs:machine:" + m,
            { Status: { } s } => "jobs:status:" + s,
            { Type: { } t } => "jobs:type:" + t,
            _ => null,
        };
        // Scores are sequence numbers below 2^53, so they pass through a double exactly. Below the cursor, exclusive of it.
        var (max, exclude) = query.Cursor is { } cursor && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            ? ((double)c, Exclude.Start)
            : (double.PositiveInfinity, Exclude.None);
        var items = new List<JobState>(limit);
        string? next = null;
        var budget = limit * 10;
        while (items.Count < limit && budget > 0)
        {
            var batch = Math.Min(budget, limit * 2);
            var reply = await RangeAsync(redis, index, max, exclude, batch, cancellationToken).ConfigureAwait(false);
            if (reply.Length == 0)
            {
                next = null;
                break;
            }
            var ids = new string[reply.Length];
            for (var i = 0; i < ids.Length; i++) ids[i] = reply[i].Element.ToString();
            budget -= ids.Length;
            var jobs = await load(ids, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < ids.Length; i++)
            {
                var seq = (long)reply[i].Score;
                (max, exclude) = (seq, Exclude.Start);
                next = seq.ToString(CultureInfo.InvariantCulture);
                if (jobs[i] is { } job && Matches(job, query))
                {
                    items.Add(job);
                    if (items.Count == limit) break;
                }
            }
            if (ids.Length < batch && items.Count < limit)
            {
                next = null; // the index is exhausted
                break;
            }
        }
        // A page that filled exactly at the end of the index is the last one: say so rather than hand out a cursor to nothing.
        if (next is not null && items.Count == limit)
        {
            var older = await RangeAsync(redis, index, max, exclude, 1, cancellationToken).ConfigureAwait(false);
            if (older.Length == 0) next = null;
        }
        return new Page<JobState>(items, next);
    }

    /// <summary>The newest <paramref name="take"/> entries below <paramref name="max"/> of an index, or of all jobs when it is null.</summary>
    private static async Task<SortedSetEntry[]> RangeAsync(IDatabase redis, string? index, double max, Exclude exclude, int take, CancellationToken cancellationToken)
    {
        if (index is not null)
            return await redis.SortedSetRangeByScoreWithScoresAsync(index, max, double.NegativeInfinity, exclude, Order.Descending, 0, take)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        // One transaction: a job that moves between statuses meanwhile is seen in exactly one of them.
        var transaction = redis.CreateTransaction();
        var ranges = Array.ConvertAll(StatusIndexes, key =>
            transaction.SortedSetRangeByScoreWithScoresAsync(key, max, double.NegativeInfinity, exclude, Order.Descending, 0, take));
        await transaction.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var merged = new List<SortedSetEntry>();
        foreach (var range in ranges) merged.AddRange(await range.ConfigureAwait(false));
        merged.Sort((a, b) => b.Score.CompareTo(a.Score));
        return [.. merged.Take(take)];
    }

    private static bool Matches(JobState job, JobQuery q) =>
        (q.Status is null || job.Status == q.Status) && (q.Type is null || job.Type == q.Type)
        && (q.WorkerId is null || job.WorkerId == q.WorkerId) && (q.MachineId is null || job.MachineId == q.MachineId)
        && (q.WorkflowId is null || job.WorkflowId == q.WorkflowId);
}
