using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Workflows;

/// <summary>Creation and listing of workflows on the Orleans engine: the listing index is <c>workflows</c>, as the Lua engine keeps it.</summary>
internal sealed class OrleansWorkflowCollection(IGrainFactory grains, IRedis redis) : IWorkflowCollection
{
    public Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default) =>
        grains.GetGrain<IWorkflowControlGrain>(Guid.CreateVersion7().ToString()).CreateAsync(definition);

    public async Task<Page<WorkflowState>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        var max = cursor is not null && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            ? "(" + c.ToString(CultureInfo.InvariantCulture)
            : "+inf";
        var ids = await redis.ExecuteAsync("ZREVRANGEBYSCORE", [WorkflowGrain.ListingKey, max, "-inf", "WITHSCORES", "LIMIT", 0, limit + 1], cancellationToken).ConfigureAwait(false);
        var count = ids.Items.Count / 2;
        var taken = Math.Min(count, limit);
        var loads = new Task<WorkflowState?>[taken];
        for (var i = 0; i < taken; i++) loads[i] = grains.GetGrain<IWorkflowControlGrain>(ids.Items[2 * i].ToString()).StateAsync();
        var states = await Task.WhenAll(loads).ConfigureAwait(false);
        var next = count > limit ? ids.Items[2 * (limit - 1) + 1].ToString() : null;
        return new Page<WorkflowState>(states.OfType<WorkflowState>().ToArray(), next);
    }
}
