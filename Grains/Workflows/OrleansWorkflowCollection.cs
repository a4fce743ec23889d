using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Workflows;

/// <summary>Creation and listing of workflows on the Orleans engine. Filled in by the workflow grain's change.</summary>
#pragma warning disable CS9113 // the stub keeps the constructor its implementation will use
internal sealed class OrleansWorkflowCollection(IGrainFactory grains, IRedis redis) : IWorkflowCollection
{
    public Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public Task<Page<WorkflowState>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
