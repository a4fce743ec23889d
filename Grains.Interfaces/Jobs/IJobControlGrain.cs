namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>
/// What the cluster's own grains do to a job, beside what people and workers do (<see cref="IJobGrain"/>):
/// create it, hand it to a worker under a lease, renew that lease.
/// </summary>
[Alias("Cluster.IJobControlGrain")]
public interface IJobControlGrain : IGrainWithStringKey
{
    /// <summary>Creates the job, pending (or waiting, for a workflow step whose dependencies have not completed); false when it exists.</summary>
    [Alias("Create")]
    Task<bool> CreateAsync(JobSubmission submission, JobPlacement placement);

    /// <summary>Gives the pending job to a worker under a new lease; null when it is not pending any more.</summary>
    [Alias("Assign")]
    Task<JobAssignment?> AssignAsync(string workerId, string machineId, string leaseToken, TimeSpan lease);

    /// <summary>
    /// Acts on whatever time has made due: a delayed job whose backoff is over becomes pending; an attempt whose
    /// lease expired or whose timeout passed is failed (and retried while retries are left). The job's own timer
    /// does this while its activation lives; the sweeper calls it for jobs whose silo died. True when it changed the job.
    /// </summary>
    [Alias("Wake")]
    Task<bool> WakeAsync();

    /// <summary>Extends the lease the token names (a heartbeat of its worker); false when the token is not the job's.</summary>
    [Alias("RenewLease")]
    Task<bool> RenewLeaseAsync(string leaseToken, TimeSpan lease);

    // ---- what the worker grains do (WorkerGrain) ------------------------------------------------------

    /// <summary>
    /// Fails the attempt the token holds because its worker went offline or registered again (<c>WORKER_LOST</c>,
    /// <c>WORKER_RESTARTED</c>): retried at once while retries are left, else dead. False when the token no longer holds the job.
    /// </summary>
    [Alias("FailLease")]
    Task<bool> FailLeaseAsync(string leaseToken, JobError error);
}

/// <summary>Where a new job belongs: on its own, or a step of a workflow.</summary>
[GenerateSerializer, Immutable, Alias("Cluster.JobPlacement")]
public sealed record JobPlacement
{
    public static readonly JobPlacement Alone = new();

    [Id(0)] public string? WorkflowId { get; init; }
    [Id(1)] public int? StepIndex { get; init; }
    /// <summary>A step whose dependencies have not completed starts <c>waiting</c>, not <c>pending</c>.</summary>
    [Id(2)] public bool Waiting { get; init; }
    /// <summary>
    /// The job's place in line, taken when it was submitted (0: when it is created), so that the jobs of one batch keep
    /// the batch's order however their creations interleave.
    /// </summary>
    [Id(3)] public long Sequence { get; init; }
}
