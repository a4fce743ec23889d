using System.Text.Json;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;
using Cluster.Grains.Redis;
using IConnectionMultiplexer = StackExchange.Redis.IConnectionMultiplexer;

namespace Cluster.Grains.Lua;

internal sealed class LuaJobQueue(IRedis redis, IConnectionMultiplexer shared, ClusterGrainOptions options) : IJobQueue
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

    public Task<Page<JobState>> ListAsync(JobQuery query, CancellationToken cancellationToken = default) =>
        JobListing.ListAsync(shared.GetDatabase(), query, LoadAsync, cancellationToken);

    private async Task<JobState?[]> LoadAsync(string[] ids, CancellationToken cancellationToken)
    {
        var loads = new Task<RespValue>[ids.Length];
        for (var i = 0; i < ids.Length; i++) loads[i] = redis.ExecuteAsync("HGETALL", ["job:" + ids[i]], cancellationToken);
        await Task.WhenAll(loads).ConfigureAwait(false);
        var jobs = new JobState?[ids.Length];
        for (var i = 0; i < ids.Length; i++) jobs[i] = JobHash.Read(loads[i].Result);
        return jobs;
    }

    /// <summary>Returns expired leases and timed-out jobs to the queue, declares silent workers offline and promotes due retries.</summary>
    public async Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("cluster_sweep", [(long)options.WorkerTimeout.TotalMilliseconds, 1000], cancellationToken).ConfigureAwait(false);
        var r = reply.Items;
        return new SweepResult((int)r[0].Integer, (int)r[1].Integer, (int)r[2].Integer, (int)r[3].Integer);
    }
}
