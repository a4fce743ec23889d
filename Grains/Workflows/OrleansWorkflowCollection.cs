using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;
using StackExchange.Redis;

namespace Cluster.Grains.Workflows;

/// <summary>Creation and listing of workflows: the listing index is <c>workflows</c>.</summary>
internal sealed class OrleansWorkflowCollection(IGrainFactory grains, IConnectionMultiplexer redis) : IWorkflowCollection
{
    public Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default) =>
        grains.GetGrain<IWorkflowControlGrain>(Guid.CreateVersion7().ToString()).CreateAsync(definition);

    public async Task<Page<WorkflowState>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        // Below the cursor (a workflow's sequence number, exact in a double), exclusive of it.
        var (max, exclude) = cursor is not null && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            ? ((double)c, Exclude.Start)
            : (double.PositiveInfinity, Exclude.None);
        var ids = await redis.GetDatabase().SortedSetRangeByScoreWithScoresAsync(WorkflowGrain.ListingKey, max, double.NegativeInfinity, exclude, Order.Descending, 0, limit + 1)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var taken = Math.Min(ids.Length, limit);
        var loads = new Task<WorkflowState?>[taken];
        for (var i = 0; i < taken; i++) loads[i] = grains.GetGrain<IWorkflowControlGrain>(ids[i].Element.ToString()).StateAsync();
        var states = await Task.WhenAll(loads).ConfigureAwait(false);
        var next = ids.Length > limit ? ((long)ids[limit - 1].Score).ToString(CultureInfo.InvariantCulture) : null;
        return new Page<WorkflowState>(states.OfType<WorkflowState>().ToArray(), next);
    }
}
