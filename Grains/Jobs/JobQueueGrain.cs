using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using StackExchange.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>
/// The cluster's pending jobs in memory (<see cref="PendingIndex"/>), served for claims. Job grains enqueue their job after the write that makes it pending and remove it after one that
/// takes it out; a claim takes the best job out and has its grain assign it, the durable step. Nothing here is
/// persisted: on activation the index is rebuilt from <c>jobs:status:pending</c>, which the job grains keep.
/// </summary>
/// <remarks>
/// Reentrant, because job grains await their enqueue while this grain may be awaiting one of them (an
/// assignment, or a read during the rebuild): each index operation is synchronous, so no await splits one.
/// Kept alive while its silo lives: a quiet spell must not cost a rebuild that reads every pending job.
/// </remarks>
[Reentrant]
[KeepAlive]
public sealed partial class JobQueueGrain(IConnectionMultiplexer redis, ILogger<JobQueueGrain> logger) : Grain, IJobQueueGrain
{
    private const string PendingKey = "jobs:status:pending";
    private const int RebuildBatch = 500;
    private readonly PendingIndex _index = new();
    private Task _rebuilt = Task.CompletedTask;

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
        _index.Add(new PendingJob(job.JobId, job.Priority, job.Sequence, job.Requirements));
        return Task.CompletedTask;
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
                if (!_index.Contains(job.JobId)) _index.Add(job);
                throw;
            }
            if (assignment is not null) return assignment;
            // Null: no longer pending (cancelled, or assigned by another path) — an entry left behind, dropped.
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
            _index.Add(new PendingJob(job.Id, job.Priority, batch[i].Sequence, job.Requirements));
            admitted++;
        }
        return admitted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebuilt the job queue from jobs:status:pending: {Admitted} jobs read, {Count} pending")]
    private partial void LogRebuilt(int admitted, int count);
}
