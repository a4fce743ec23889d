using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using StackExchange.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>
/// The cluster's pending jobs in memory (<see cref="PendingIndex"/>), served for claims in fair turns between tenants.
/// Job grains enqueue their job after the write that makes it pending and remove it after one that takes it out; a
/// claim takes the best job out and has its grain assign it, the durable step. Being the one queue of the cluster, it
/// also counts each tenant's held jobs, so that <see cref="TenantLimitOptions.RunningJobs"/> holds across every silo.
/// Nothing here is persisted: on activation the index is rebuilt from <c>jobs:status:pending</c>, and (with a running
/// limit set) the held jobs from <c>jobs:status:assigned</c> and <c>jobs:status:running</c>, which the job grains keep.
/// </summary>
/// <remarks>
/// Reentrant, because job grains await their enqueue while this grain may be awaiting one of them (an
/// assignment, or a read during the rebuild): each index operation is synchronous, so no await splits one.
/// Kept alive while its silo lives: a quiet spell must not cost a rebuild that reads every pending job.
/// </remarks>
[Reentrant]
[KeepAlive]
public sealed partial class JobQueueGrain(IConnectionMultiplexer redis, IOptions<TenantLimitOptions> limits, ILogger<JobQueueGrain> logger)
    : Grain, IJobQueueGrain
{
    private const string PendingKey = "jobs:status:pending";
    private static readonly string[] HeldKeys = ["jobs:status:" + JobStatus.Assigned, "jobs:status:" + JobStatus.Running];
    private const int RebuildBatch = 500;
    private readonly PendingIndex _index = new(limits.Value);
    private Task _rebuilt = Task.CompletedTask;
    // Jobs released while the rebuild runs: it may have read them held just before.
    private HashSet<string>? _releasedInRebuild;

    /// <summary>
    /// Starts the rebuild and returns, so that enqueues and removals are taken meanwhile (a job grain enqueueing
    /// may be one the rebuild reads); claims and counts wait for it.
    /// </summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _rebuilt = RebuildAsync();
        return Task.CompletedTask;
    }

    public Task EnqueueAsync(QueuedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        _index.Add(new PendingJob(job.JobId, job.Priority, job.Sequence, job.Requirements, job.Tenant));
        return Task.CompletedTask;
    }

    public Task ReleaseAsync(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (!_index.Release(jobId)) _releasedInRebuild?.Add(jobId);
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<TenantJobs>> TenantsAsync()
    {
        await ReadyAsync();
        return [.. _index.Tenants.Where(t => t.Tenant.Length > 0).Select(t => new TenantJobs(t.Tenant, t.Pending, t.Held)).OrderBy(t => t.Tenant, StringComparer.Ordinal)];
    }

    public Task RemoveAsync(string jobId)
    {
        _index.Remove(jobId);
        return Task.CompletedTask;
    }

    public async Task<JobAssignment?> ClaimAsync(string workerId, string machineId, WorkerCapabilities capabilities, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        await ReadyAsync();
        while (_index.TryClaim(capabilities, out var job))
        {
            JobAssignment? assignment;
            try
            {
                assignment = await GrainFactory.GetGrain<IJobControlGrain>(job.JobId)
                    .AssignAsync(workerId, machineId, Guid.NewGuid().ToString("N"), lease);
            }
            catch
            {
                // Whether it was assigned is unknown: back in line, where a second assignment is refused if the first took.
                // Its tenant's slot stays taken: if it was assigned, its grain frees the slot when the job ends.
                if (!_index.Contains(job.JobId)) _index.Add(job);
                throw;
            }
            if (assignment is not null) return assignment;
            // Null: no longer pending (cancelled, or assigned by another path) — an entry left behind, dropped.
            _index.Release(job.JobId);
        }
        return null;
    }

    public async Task<long> CountAsync()
    {
        await ReadyAsync();
        return _index.Count;
    }

    /// <summary>Waits for the rebuild; one that failed deactivates the queue, so that the next call rebuilds afresh.</summary>
    private async Task ReadyAsync()
    {
        try
        {
            await _rebuilt;
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>
    /// Reads every id in <c>jobs:status:pending</c> (its score is the job's sequence) and asks each job's grain for
    /// its priority and requirements, a batch at a time in parallel. A job enqueued meanwhile is newer than what
    /// the rebuild read, so it is kept as enqueued; a job the rebuild adds that was taken out meanwhile is refused
    /// by its grain when claimed, and dropped then.
    /// </summary>
    private async Task RebuildAsync()
    {
        _releasedInRebuild = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await RebuildPendingAsync();
            // Only a limit needs the held jobs counted before claims are served; reading them activates each held job's
            // grain, which a cluster without the limit is spared (the count then starts from the claims served here).
            if (limits.Value.RunningJobs > 0)
                foreach (var key in HeldKeys) await RebuildHeldAsync(key);
        }
        finally
        {
            _releasedInRebuild = null;
        }
    }

    private async Task RebuildPendingAsync()
    {
        var batch = new List<(string Id, long Sequence)>(RebuildBatch);
        var admitted = 0;
        await foreach (var entry in redis.GetDatabase().SortedSetScanAsync(PendingKey, pageSize: RebuildBatch))
        {
            batch.Add(((string)entry.Element!, (long)entry.Score));
            if (batch.Count < RebuildBatch) continue;
            admitted += await AdmitAsync(batch);
            batch.Clear();
        }
        admitted += await AdmitAsync(batch);
        LogRebuilt(admitted, _index.Count);
    }

    private async Task<int> AdmitAsync(List<(string Id, long Sequence)> batch)
    {
        if (batch.Count == 0) return 0;
        var reads = new Task<JobState?>[batch.Count];
        for (var i = 0; i < batch.Count; i++) reads[i] = GrainFactory.GetGrain<IJobGrain>(batch[i].Id).GetAsync();
        var jobs = await Task.WhenAll(reads);
        var admitted = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (jobs[i] is not { Status: JobStatus.Pending } job || _index.Contains(job.Id)) continue;
            _index.Add(new PendingJob(job.Id, job.Priority, batch[i].Sequence, job.Requirements, job.Tenant));
            admitted++;
        }
        return admitted;
    }

    /// <summary>Counts each held job of a tenant in <paramref name="key"/> against its tenant's running slots.</summary>
    private async Task RebuildHeldAsync(string key)
    {
        var ids = new List<string>(RebuildBatch);
        await foreach (var entry in redis.GetDatabase().SortedSetScanAsync(key, pageSize: RebuildBatch))
        {
            ids.Add((string)entry.Element!);
            if (ids.Count < RebuildBatch) continue;
            await HoldAsync(ids);
            ids.Clear();
        }
        await HoldAsync(ids);
    }

    private async Task HoldAsync(List<string> ids)
    {
        var jobs = await Task.WhenAll(ids.Select(id => GrainFactory.GetGrain<IJobGrain>(id).GetAsync()));
        foreach (var job in jobs)
        {
            if (job is { Tenant: { } tenant } && JobStatus.IsHeld(job.Status) && !_releasedInRebuild!.Contains(job.Id))
                _index.Hold(job.Id, tenant);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebuilt the job queue from jobs:status:pending: {Admitted} jobs read, {Count} pending")]
    private partial void LogRebuilt(int admitted, int count);
}
