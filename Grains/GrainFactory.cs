using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Lua;
using Cluster.Grains.Redis;
using Cluster.Grains.Workers;
using Cluster.Grains.Workflows;

namespace Cluster.Grains;

/// <summary>
/// Hands out grain references. A reference is only an address: creating one costs nothing and touches
/// no state, and any silo may hold references to the same grain at once, since every transition is
/// serialised inside Redis.
/// </summary>
public sealed class GrainFactory(IRedis redis, ClusterGrainOptions options)
{
    private readonly JobQueue _jobs = new(redis, options);

    public ClusterGrainOptions Options { get; } = options;
    public IJobQueue Jobs => _jobs;
    public IWorkflowCollection Workflows { get; } = new WorkflowCollection(redis);
    public Fleet Fleet { get; } = new(redis);
    public JobStats Stats { get; } = new(redis);

    public IJobGrain Job(string id) => new LuaJobGrain(redis, Options, id);
    public IWorkerGrain Worker(string id) => new WorkerGrain(redis, id);
    public IMachineGrain Machine(string id) => new MachineGrain(redis, id);
    public IWorkflowGrain Workflow(string id) => new WorkflowGrain(redis, id);

    /// <summary>One sweep of expired leases, lapsed workers and due retries.</summary>
    public Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default) => _jobs.SweepAsync(cancellationToken);
}
