using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Users;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Workers;
using Cluster.Grains.Workflows;
using StackExchange.Redis;

namespace Cluster.Grains;

/// <summary>
/// What the API, the gateways and the tests reach jobs, workers, machines and workflows through: grain references
/// for the entities, and the collections (submission, listing, fleet, stats) read from the indexes the grains keep in
/// Redis. A reference is only an address: creating one costs nothing and touches no state.
/// </summary>
public sealed class GrainFactory
{
    private readonly IGrainFactory _grains;
    private readonly IConnectionMultiplexer _redis;

    public GrainFactory(IGrainFactory grains, IConnectionMultiplexer redis, ClusterGrainOptions options)
    {
        _grains = grains;
        _redis = redis;
        Options = options;
        Jobs = new OrleansJobQueue(grains, redis);
        Workflows = new OrleansWorkflowCollection(grains, redis);
        Fleet = new Fleet(redis, Worker, Machine);
        Stats = new JobStats(redis);
    }

    public ClusterGrainOptions Options { get; }
    public IJobQueue Jobs { get; }
    public IWorkflowCollection Workflows { get; }
    public Fleet Fleet { get; }
    public JobStats Stats { get; }

    /// <summary>An empty name gets an entity that answers as absent, without a grain call.</summary>
    public IJobGrain Job(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IJobGrain>(id) : new AbsentEntity(id);
    public IWorkerGrain Worker(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IWorkerGrain>(id) : new AbsentEntity(id);
    public IMachineGrain Machine(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IMachineGrain>(id) : new AbsentEntity(id);
    public IWorkflowGrain Workflow(string id) => AbsentEntity.CanName(id) ? _grains.GetGrain<IWorkflowGrain>(id) : new AbsentEntity(id);
    public IUserGrain User(string id) => _grains.GetGrain<IUserGrain>(id);

    /// <summary>Every account, oldest first.</summary>
    public async Task<IReadOnlyList<UserView>> ListUsersAsync(CancellationToken cancellationToken = default)
    {
        var ids = await _redis.GetDatabase().HashKeysAsync(Users.UserGrain.IndexKey).WaitAsync(cancellationToken).ConfigureAwait(false);
        var users = await Task.WhenAll(ids.Select(id => User(id.ToString()).GetAsync())).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. users.OfType<UserView>().OrderBy(u => u.CreatedAt, StringComparer.Ordinal).ThenBy(u => u.Id, StringComparer.Ordinal)];
    }

    /// <summary>Each tenant's jobs waiting in the cluster's queue and held by workers, for the tenants that have any.</summary>
    public Task<IReadOnlyList<TenantJobs>> TenantJobsAsync(CancellationToken cancellationToken = default) =>
        _grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default).TenantsAsync().WaitAsync(cancellationToken);

    /// <summary>One sweep of expired leases, lapsed workers and due retries, at once rather than on the sweeper's timer.</summary>
    public async Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default)
    {
        var swept = await _grains.GetGrain<ISweeperGrain>(ISweeperGrain.Key).SweepAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return new SweepResult(swept.ExpiredLeases, swept.TimedOut, swept.WorkersLost, swept.RetriesPromoted);
    }
}

public sealed record SweepResult(int ExpiredLeases, int TimedOut, int WorkersLost, int RetriesPromoted)
{
    public bool Any => ExpiredLeases + TimedOut + WorkersLost + RetriesPromoted > 0;
}
