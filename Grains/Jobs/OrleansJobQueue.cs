using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>Submission, claims and listings on the Orleans engine. Filled in by the job queue grain's change.</summary>
#pragma warning disable CS9113 // the stub keeps the constructor its implementation will use
internal sealed class OrleansJobQueue(IGrainFactory grains, IRedis redis, ClusterGrainOptions options) : IJobQueue
{
    public Task<SubmittedJob> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public Task<JobAssignment?> ClaimAsync(string workerId, string machineId, WorkerCapabilities capabilities, TimeSpan lease, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public Task<Page<JobState>> ListAsync(JobQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public Task<long> PendingCountAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
