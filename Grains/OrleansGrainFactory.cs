using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Workers;
using Cluster.Grains.Workflows;
using StackExchange.Redis;

namespace Cluster.Grains;

/// <summary>The engine on the Orleans runtime: jobs, workers, machines and workflows are grains; Redis stores them.</summary>
public sealed class OrleansGrainFactory : GrainFactory
{
    private readonly IGrainFactory _grains;

    public OrleansGrainFactory(IGrainFactory grains, IConnectionMultiplexer redis, ClusterGrainOptions options) : base(options)
    {
        _grains = grains;
        Jobs = new OrleansJobQueue(grains, redis);
        Workflows = new OrleansWorkflowCollection(grains, redis);
        Fleet = new Fleet(redis, Worker, Machine);
        Stats = new JobStats(redis);
    }

    public override IJobQueue Jobs { get; }
    public override IWorkflowCollection Workflows { get; }
    public override Fleet Fleet { get; }
    public override JobStats Stats { get; }

    public override IJobGrain Job(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IJobGrain>(id) : new AbsentEntity(id);
    public override IWorkerGrain Worker(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IWorkerGrain>(id) : new AbsentEntity(id);
    public override IMachineGrain Machine(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IMachineGrain>(id) : new AbsentEntity(id);
    public override IWorkflowGrain Workflow(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IWorkflowGrain>(id) : new AbsentEntity(id);

    public override async Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default)
    {
        var swept = await _grains.GetGrain<ISweeperGrain>(ISweeperGrain.Key).SweepAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return new SweepResult(swept.ExpiredLeases, swept.TimedOut, swept.WorkersLost, swept.RetriesPromoted);
    }
}
