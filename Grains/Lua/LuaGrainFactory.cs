using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Redis;
using Cluster.Grains.Workers;
using IConnectionMultiplexer = StackExchange.Redis.IConnectionMultiplexer;

namespace Cluster.Grains.Lua;

/// <summary>The engine the Orleans grains replace: every transition is a Lua function in Redis, serialised there.</summary>
/// <param name="redis">The project's own client, which the functions are called through.</param>
/// <param name="shared">StackExchange.Redis, for the listings and statistics both engines read alike.</param>
public sealed class LuaGrainFactory(IRedis redis, IConnectionMultiplexer shared, ClusterGrainOptions options) : GrainFactory(options)
{
    private readonly LuaJobQueue _jobs = new(redis, shared, options);

    public override IJobQueue Jobs => _jobs;
    public override IWorkflowCollection Workflows { get; } = new LuaWorkflowCollection(redis);
    public override Fleet Fleet { get; } = new(shared, id => new LuaWorkerGrain(redis, id), id => new LuaMachineGrain(redis, id));
    public override JobStats Stats { get; } = new(shared);

    public override IJobGrain Job(string id) => new LuaJobGrain(redis, Options, id);
    public override IWorkerGrain Worker(string id) => new LuaWorkerGrain(redis, id);
    public override IMachineGrain Machine(string id) => new LuaMachineGrain(redis, id);
    public override IWorkflowGrain Workflow(string id) => new LuaWorkflowGrain(redis, id);

    public override Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default) => _jobs.SweepAsync(cancellationToken);
}
