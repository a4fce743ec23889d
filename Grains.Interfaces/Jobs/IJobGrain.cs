using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>
/// One job, addressed by its id. Every method is one atomic transition in Redis; methods a worker calls
/// take the lease token it was given, and a token that is no longer current is refused with STALE_LEASE.
/// An empty token is seed 001's unfenced internal API.
/// </summary>
[Alias("Cluster.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    [Alias("GetAsync")]
    Task<JobState?> GetAsync(CancellationToken cancellationToken = default);
    [Alias("ReportProgressAsync")]
    Task ReportProgressAsync(string leaseToken, double progress, string? message = null, CancellationToken cancellationToken = default);
    /// <summary>Returns false when the job had already completed (the call is idempotent).</summary>
    [Alias("CompleteAsync")]
    Task<bool> CompleteAsync(string leaseToken, JsonNode? result, CancellationToken cancellationToken = default);
    /// <summary>Fails this attempt; a retryable failure with retries left is tried again after an exponential backoff.</summary>
    [Alias("FailAsync")]
    Task<JobFailureOutcome> FailAsync(string leaseToken, JobError error, bool retryable = true, CancellationToken cancellationToken = default);
    /// <summary>The job's last 200 events, oldest first, each with its <c>event_id</c> and <c>type</c>.</summary>
    [Alias("HistoryAsync")]
    Task<IReadOnlyList<JsonObject>> HistoryAsync(CancellationToken cancellationToken = default);
    [Alias("CancelAsync")]
    Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default);
    /// <summary>Puts a dead, cancelled or delayed job back in line now, its retry count reset.</summary>
    [Alias("RetryAsync")]
    Task RetryAsync(CancellationToken cancellationToken = default);
}

[GenerateSerializer, Alias("Cluster.JobFailureOutcome")]
public enum JobFailureOutcome { Retrying, Dead }

/// <summary>The queue as a whole: submission, claims and listings.</summary>
public interface IJobQueue
{
    Task<SubmittedJob> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default);
    /// <summary>Gives the worker the best job it can serve, under a lease, or null when none matches.</summary>
    Task<JobAssignment?> ClaimAsync(string workerId, string machineId, Workers.WorkerCapabilities capabilities, TimeSpan lease, CancellationToken cancellationToken = default);
    Task<Page<JobState>> ListAsync(JobQuery query, CancellationToken cancellationToken = default);
    Task<long> PendingCountAsync(CancellationToken cancellationToken = default);
}
