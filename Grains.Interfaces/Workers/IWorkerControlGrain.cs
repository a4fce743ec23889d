using Cluster.Grains.Interfaces.Jobs;
using Orleans.Concurrency;

namespace Cluster.Grains.Interfaces.Workers;

/// <summary>
/// What the cluster's own grains do with a worker, beside what the worker itself does (<see cref="IWorkerGrain"/>):
/// claims made for it, the job grains telling it when a hold starts and ends, the sweeper finding it silent.
/// Implemented by the same grain as <see cref="IWorkerGrain"/>, under the same key.
/// </summary>
[Alias("Cluster.IWorkerControlGrain")]
public interface IWorkerControlGrain : IGrainWithStringKey
{
    /// <summary>
    /// Claims the best job the capabilities can serve from the queue and records the hold. A registered worker is
    /// refused (null) when offline or at its concurrency, and claims for its own machine when none is given; an id
    /// that never registered claims without those checks (seed 001's anonymous workers).
    /// </summary>
    [Alias("Claim")]
    Task<JobAssignment?> ClaimAsync(string machineId, WorkerCapabilities capabilities, TimeSpan lease);

    /// <summary>
    /// A job grain assigned its job to this worker under <paramref name="leaseToken"/>. Awaited by the job before its
    /// assignment answers, so the worker knows of the hold even when that answer is lost with a silo on its way back
    /// through the queue: the worker's next claim hands the hold out instead. Interleaves, since a claim of this worker
    /// waits on that very assignment. False when the worker is offline and will never run the job.
    /// </summary>
    [Alias("JobHeld"), AlwaysInterleave]
    Task<bool> JobHeldAsync(string jobId, string leaseToken);

    /// <summary>
    /// The job's hold under <paramref name="leaseToken"/> ended (completed, failed, cancelled, lease lost); a later hold is
    /// kept. Awaited by the job, so that a claim its worker makes after hearing the job ended finds the slot free; it
    /// interleaves (a claim of this worker may be waiting on that very job) and does no await of its own.
    /// </summary>
    [Alias("JobReleased"), AlwaysInterleave]
    Task JobReleasedAsync(string jobId, string leaseToken);

    /// <summary>
    /// A new activation of a job assigned to this worker, whose stored lease has lapsed or is about to, asks whether the
    /// worker is still there to run it: the renewals its earlier activation kept in memory are lost, and so are the ones,
    /// and even the assignment's answer or its word to this worker, that met its silo dying before the cluster declared
    /// it dead. True when the worker is online and heard from within the worker timeout; the hold is then kept under
    /// <paramref name="leaseToken"/> and, if this activation did not know it, handed out by the next claim. Answers from
    /// memory without an await, and interleaves: a heartbeat or claim of this worker may be waiting on that very job.
    /// </summary>
    [Alias("TakeBack"), AlwaysInterleave]
    Task<bool> TakeBackAsync(string jobId, string leaseToken);

    /// <summary>
    /// The sweeper found the worker's stored heartbeat older than the worker timeout. Goes offline, returning its jobs,
    /// when its last heartbeat really is that old (true); otherwise stores the newer heartbeat (false).
    /// </summary>
    [Alias("Lapse")]
    Task<bool> LapseAsync();
}

/// <summary>What the worker grains do with their machine: a machine exists from its first worker's registration.</summary>
[Alias("Cluster.IMachineControlGrain")]
public interface IMachineControlGrain : IGrainWithStringKey
{
    /// <summary>Creates the machine on its first worker (event <c>machine_registered</c>), adds the worker and marks the machine seen.</summary>
    [Alias("AddWorker")]
    Task AddWorkerAsync(string workerId, string? host, int? gpuCount);

    /// <summary>The worker registered again on another machine.</summary>
    [Alias("RemoveWorker")]
    Task RemoveWorkerAsync(string workerId);
}
