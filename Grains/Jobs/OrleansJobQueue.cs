using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using StackExchange.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>
/// Submission, claims and listings: a job is created by its grain, claimed through the
/// <see cref="JobQueueGrain"/>, listed from the indexes the job grains keep in Redis.
/// </summary>
internal sealed class OrleansJobQueue(IGrainFactory grains, IConnectionMultiplexer redis) : IJobQueue
{
    private static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    // Undoes a claim of an idempotency key whose job was never created, unless another submission holds it by now.
    private const string ReleaseKeyScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    private IJobQueueGrain Queue => grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default);

    /// <summary>
    /// A key submitted within 24 h returns the job it named. The key is claimed for
    /// the new id before the job is created (<c>SET NX</c>), so two submissions racing with one key make one job.
    /// </summary>
    public async Task<SubmittedJob> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var id = JobSpec.NewId();
        // Before the first await: the submissions of a batch, started in order, take their places in that order.
        var placement = new JobPlacement { Sequence = JobSequence.Next() };
        var key = submission.IdempotencyKey is { Length: > 0 } idempotency ? "idempotency:" + idempotency : null;
        if (key is not null)
        {
            var existing = await redis.GetDatabase().StringSetAndGetAsync(key, id, IdempotencyWindow, when: When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!existing.IsNull) return new SubmittedJob(existing.ToString(), Created: false);
        }
        bool created;
        try
        {
            created = await grains.GetGrain<IJobControlGrain>(id).CreateAsync(submission, placement).ConfigureAwait(false);
        }
        catch when (key is not null)
        {
            await redis.GetDatabase().ScriptEvaluateAsync(ReleaseKeyScript, [key], [id]).ConfigureAwait(false);
            throw;
        }
        return created ? new SubmittedJob(id, Created: true) : throw new ClusterException(ErrorCodes.DuplicateJob, $"a job with id {id} exists");
    }

    /// <summary>
    /// The one place a claim enters: through the worker's grain, which refuses an offline worker or
    /// one at its concurrency (as <c>claim_best</c> checks them) and records the hold; a claim naming no worker goes
    /// straight to the queue.
    /// </summary>
    public Task<JobAssignment?> ClaimAsync(string workerId, string machineId, WorkerCapabilities capabilities, TimeSpan lease, CancellationToken cancellationToken = default) =>
        AbsentEntity.CanName(workerId)
            ? grains.GetGrain<IWorkerControlGrain>(workerId).ClaimAsync(machineId, capabilities, lease).WaitAsync(cancellationToken)
            : Queue.ClaimAsync(workerId, machineId, capabilities, lease);

    public Task<Page<JobState>> ListAsync(JobQuery query, CancellationToken cancellationToken = default) =>
        JobListing.ListAsync(redis.GetDatabase(), query, LoadAsync, cancellationToken);

    public Task<long> PendingCountAsync(CancellationToken cancellationToken = default) =>
        redis.GetDatabase().SortedSetLengthAsync("jobs:status:pending").WaitAsync(cancellationToken);

    private Task<JobState?[]> LoadAsync(string[] ids, CancellationToken cancellationToken)
    {
        var loads = new Task<JobState?>[ids.Length];
        for (var i = 0; i < ids.Length; i++) loads[i] = grains.GetGrain<IJobGrain>(ids[i]).GetAsync(cancellationToken);
        return Task.WhenAll(loads);
    }
}
