using Orleans.Concurrency;

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

    /// <summary>
    /// The job's assignment while <paramref name="workerId"/> holds it; null otherwise. For a worker grain that lost
    /// track of a hold (its claim's answer, or its activation, died with a silo) and hands it out again, with a full lease
    /// renewed in memory. Interleaves: the job may be waiting on that very worker; it acts only between the job's writes.
    /// </summary>
    [AlwaysInterleave, Alias("HeldBy")]
    Task<JobAssignment?> HeldByAsync(string workerId);

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

    // ---- workflow steps: what the workflow grain does to its steps' jobs ------------------------------------
    // These interleave with the job's own requests: a job tells its workflow that it ended and waits for the answer,
    // while the workflow may be acting on that job or on another (a cycle of waits otherwise). Each waits for a write
    // in flight, then acts only when the job is in the state the workflow expects, and returns the job's facts after it.

    /// <summary>The job as it is, read while it may be busy (for the workflow's view); null when it does not exist.</summary>
    [AlwaysInterleave, Alias("Peek")]
    Task<JobState?> PeekAsync();

    /// <summary>
    /// A waiting step whose dependencies have completed becomes pending, its payload given <paramref name="inputs"/>
    /// (<c>{"&lt;step index&gt;": result, …}</c> as JSON text) as its first member; a <c>job_pending</c> event gives the reason.
    /// </summary>
    [AlwaysInterleave, Alias("Promote")]
    Task<StepNotice?> PromoteAsync(int generation, string inputs, string reason);

    /// <summary>Cancels the unfinished job for its workflow (the failure policy, or the workflow cancelled); the workflow is not told.</summary>
    [AlwaysInterleave, Alias("CancelByWorkflow")]
    Task<StepNotice?> CancelByWorkflowAsync(string reason);

    /// <summary>
    /// Gives a dead or cancelled step a fresh start in <paramref name="generation"/>: pending (with <paramref name="inputs"/>
    /// when it has dependencies) or waiting. Notices of older generations are the workflow's to ignore.
    /// </summary>
    [AlwaysInterleave, Alias("Restore")]
    Task<StepNotice?> RestoreAsync(int generation, bool pending, string? inputs, string reason);

    /// <summary>Seed 001's internal completion: completes an assigned or running step without a lease; the workflow is not told.</summary>
    [AlwaysInterleave, Alias("CompleteForWorkflow")]
    Task<StepNotice?> CompleteForWorkflowAsync(string result);

    /// <summary>Tells the job's workflow again that it ended, if it did (idempotent; the <c>jobs</c> topic's relay calls it).</summary>
    [Alias("NotifyWorkflow")]
    Task NotifyWorkflowAsync();
}

/// <summary>What a step's job tells its workflow: its status now, in the step's generation, and what it ended with.</summary>
[GenerateSerializer, Immutable, Alias("Cluster.StepNotice")]
public sealed record StepNotice
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int StepIndex { get; init; }
    /// <summary>How many times the workflow has restored the step (a retry); a notice of an older one is stale.</summary>
    [Id(2)] public int Generation { get; init; }
    [Id(3)] public required string Status { get; init; }
    /// <summary>The result as JSON text, when completed.</summary>
    [Id(4)] public string? Result { get; init; }
    /// <summary>The error as JSON text when dead; the reason when cancelled.</summary>
    [Id(5)] public string? Detail { get; init; }
    /// <summary>The workflow cancelled it: the workflow knows already.</summary>
    [Id(6)] public bool ByWorkflow { get; init; }
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
