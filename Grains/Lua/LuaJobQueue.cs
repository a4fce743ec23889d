using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal sealed class LuaJobQueue(IRedis redis, ClusterGrainOptions options) : IJobQueue
{
    public async Task<SubmittedJob> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default)
    {
        var spec = JobSpec.From(submission);
        var reply = await redis.CallAsync("job_submit", [spec.ToJsonString()], cancellationToken).ConfigureAwait(false);
        return new SubmittedJob(reply.Items[0].ToString(), reply.Items[1].Integer == 1);
    }

    public async Task<JobAssignment?> ClaimAsync(string workerId, string machineId, WorkerCapabilities capabilities, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        var request = JsonSerializer.SerializeToNode(capabilities, ClusterJson.Options)!.AsObject();
        request["worker_id"] = workerId;
        request["machine_id"] = machineId;
        var token = Guid.NewGuid().ToString("N");
        var reply = await redis.CallAsync("job_claim",
            [request.ToJsonString(), token, (long)lease.TotalMilliseconds], cancellationToken).ConfigureAwait(false);
        if (reply.IsNull) return null;
        var job = JobHash.Read(reply)!;
        var expires = reply.ToDictionary().TryGetValue("lease_expires_at", out var e) ? e.Integer : 0;
        return new JobAssignment(job, token, expires);
    }

    public async Task<long> PendingCountAsync(CancellationToken cancellationToken = default) =>
        (await redis.ExecuteAsync("ZCARD", ["jobs:pending"], cancellationToken).ConfigureAwait(false)).Integer;

    /// <summary>
    /// Walks the most selective index newest first, from the cursor (a job's sequence number), and checks
    /// the remaining filters on each job. A page looks at no more than ten pages' worth of candidates,
    /// so a rare combination of filters yields a short page with a cursor rather than a long scan.
    /// </summary>
    public async Task<Page<JobState>> ListAsync(JobQuery query, CancellationToken cancellationToken = default)
    {
        var limit = Math.Clamp(query.Limit, 1, JobLimits.MaxListLimit);
        var index = query switch
        {
            { WorkflowId: { } w } => "jobs:workflow:" + w,
            { WorkerId: { } w } => "jobs:worker:" + w,
            { MachineId: { } m } => "jobs:machine:" + m,
            { Status: { } s } => "jobs:status:" + s,
            { Type: { } t } => "jobs:type:" + t,
            _ => "jobs:all",
        };
        var max = query.Cursor is { } cursor && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            ? "(" + c.ToString(CultureInfo.InvariantCulture)
            : "+inf";
        var items = new List<JobState>(limit);
        string? next = null;
        var budget = limit * 10;
        while (items.Count < limit && budget > 0)
        {
            var batch = Math.Min(budget, limit * 2);
            var ids = await redis.ExecuteAsync("ZREVRANGEBYSCORE", [index, max, "-inf", "WITHSCORES", "LIMIT", 0, batch], cancellationToken).ConfigureAwait(false);
            if (ids.Items.Count == 0)
            {
                next = null;
                break;
            }
            budget -= ids.Items.Count / 2;
            var loads = new Task<RespValue>[ids.Items.Count / 2];
            for (var i = 0; i < loads.Length; i++) loads[i] = redis.ExecuteAsync("HGETALL", ["job:" + ids.Items[2 * i]], cancellationToken);
            await Task.WhenAll(loads).ConfigureAwait(false);
            for (var i = 0; i < loads.Length; i++)
            {
                var seq = ids.Items[2 * i + 1].ToString();
                max = "(" + seq;
                next = seq;
                if (JobHash.Read(loads[i].Result) is { } job && Matches(job, query))
                {
                    items.Add(job);
                    if (items.Count == limit) break;
                }
            }
            if (ids.Items.Count / 2 < batch && items.Count < limit)
            {
                next = null; // the index is exhausted
                break;
            }
        }
        // A page that filled exactly at the end of the index is the last one: say so rather than hand out a cursor to nothing.
        if (next is not null && items.Count == limit)
        {
            var older = await redis.ExecuteAsync("ZREVRANGEBYSCORE", [index, max, "-inf", "LIMIT", 0, 1], cancellationToken).ConfigureAwait(false);
            if (older.Items.Count == 0) next = null;
        }
        return new Page<JobState>(items, next);
    }

    private static bool Matches(JobState job, JobQuery q) =>
        (q.Status is null || job.Status == q.Status) && (q.Type is null || job.Type == q.Type)
        && (q.WorkerId is null || job.WorkerId == q.WorkerId) && (q.MachineId is null || job.MachineId == q.MachineId)
        && (q.WorkflowId is null || job.WorkflowId == q.WorkflowId);

    /// <summary>Returns expired leases and timed-out jobs to the queue, declares silent workers offline and promotes due retries.</summary>
    public async Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("cluster_sweep", [(long)options.WorkerTimeout.TotalMilliseconds, 1000], cancellationToken).ConfigureAwait(false);
        var r = reply.Items;
        return new SweepResult((int)r[0].Integer, (int)r[1].Integer, (int)r[2].Integer, (int)r[3].Integer);
    }
}
