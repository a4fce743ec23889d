using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Workers;

namespace Cluster.Grains;

/// <summary>
/// What the API, the gateways and the tests reach jobs, workers, machines and workflows through, whichever engine
/// runs them: the Lua functions in Redis (<see cref="Lua.LuaGrainFactory"/>) or Orleans grains. A reference is only
/// an address: creating one costs nothing and touches no state.
/// </summary>
public abstract class GrainFactory(ClusterGrainOptions options)
{
    public ClusterGrainOptions Options { get; } = options;
    public abstract IJobQueue Jobs { get; }
    public abstract IWorkflowCollection Workflows { get; }
    public abstract Fleet Fleet { get; }
    public abstract JobStats Stats { get; }

    public abstract IJobGrain Job(string id);
    public abstract IWorkerGrain Worker(string id);
    public abstract IMachineGrain Machine(string id);
    public abstract IWorkflowGrain Workflow(string id);

    /// <summary>One sweep of expired leases, lapsed workers and due retries.</summary>
    public abstract Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default);
}

public sealed record SweepResult(int ExpiredLeases, int TimedOut, int WorkersLost, int RetriesPromoted)
{
    public bool Any => ExpiredLeases + TimedOut + WorkersLost + RetriesPromoted > 0;
}
