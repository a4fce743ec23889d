using Cluster.Grains.Interfaces.Workers;
using Orleans.Concurrency;

namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>
/// The pending jobs of the cluster, in memory, ordered for claims: the worker's own pool first, then priority, then
/// first in. Job grains put their job in when it becomes pending and take it out when it stops being claimable; the
/// queue rebuilds itself from <c>jobs:status:pending</c> when it activates, so a lost enqueue costs nothing but a wait.
/// </summary>
[Alias("Cluster.IJobQueueGrain")]
public interface IJobQueueGrain : IGrainWithStringKey
{
    /// <summary>The key of the cluster's one queue (shard by pool only when a benchmark says so).</summary>
    public const string Default = "default";

    /// <summary>Adds the job, or updates it when it is in already.</summary>
    [Alias("Enqueue")]
    Task EnqueueAsync(QueuedJob job);

    /// <summary>Takes the job out (cancelled, or taken by a path other than a claim); nothing when it is not in.</summary>
    [Alias("Remove")]
    Task RemoveAsync(string jobId);

    /// <summary>
    /// Assigns the best job this worker can serve under a new lease (through the job's grain, which refuses a job that
    /// stopped being pending meanwhile); null when nothing it can serve is pending.
    /// </summary>
    [Alias("Claim")]
    Task<JobAssignment?> ClaimAsync(string workerId, string machineId, WorkerCapabilities capabilities, TimeSpan lease);

    /// <summary>
    /// A claimed job of a tenant stopped being held (it ended, or went back in line): its tenant's running slot is free.
    /// One-way: the job's write stands whatever the queue answers.
    /// </summary>
    [Alias("Release"), OneWay]
    Task ReleaseAsync(string jobId);

    [Alias("Count")]
    Task<long> CountAsync();

    /// <summary>Every tenant with jobs pending or held (claimed, not ended); work of no tenant is left out.</summary>
    [Alias("Tenants")]
    Task<IReadOnlyList<TenantJobs>> TenantsAsync();
}

/// <summary>A tenant's jobs in the queue: waiting, and held by workers (assigned or running).</summary>
[GenerateSerializer, Immutable, Alias("Cluster.TenantJobs")]
public sealed record TenantJobs([property: Id(0)] string Tenant, [property: Id(1)] int Pending, [property: Id(2)] int Held);

/// <summary>What the queue keeps of a pending job: enough to order and match it.</summary>
[GenerateSerializer, Immutable, Alias("Cluster.QueuedJob")]
public sealed record QueuedJob(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Priority,
    [property: Id(2)] long Sequence,
    [property: Id(3)] JobRequirements? Requirements,
    [property: Id(4)] string? Tenant = null);
