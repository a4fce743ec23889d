using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Grains.Interfaces.Workflows;

/// <summary>
/// One workflow, a DAG of jobs, addressed by its id. Its steps advance inside the job transitions that
/// cause them (a step completing promotes its dependents in the same atomic call), so these methods are
/// only for reading it and for what people do to it.
/// </summary>
[Alias("Cluster.IWorkflowGrain")]
public interface IWorkflowGrain : IGrainWithStringKey
{
    /// <summary>The workflow and its steps, read in one atomic step; null when there is no such workflow.</summary>
    [Alias("GetAsync")]
    Task<WorkflowView?> GetAsync(CancellationToken cancellationToken = default);
    /// <summary>Cancels every unfinished step; the workflow ends <c>cancelled</c>. INVALID_STATE when it has ended.</summary>
    [Alias("CancelAsync")]
    Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default);
    /// <summary>
    /// Retries a dead or cancelled step. The steps cancelled because of it come back (<c>waiting</c>, or
    /// <c>pending</c> when their dependencies have completed) and the workflow runs again.
    /// </summary>
    [Alias("RetryStepAsync")]
    Task RetryStepAsync(int stepIndex, CancellationToken cancellationToken = default);
    /// <summary>
    /// Seed 001's internal notification that a step's job completed (seed-era code marks the job completed
    /// itself first). Promotes its dependents exactly once; returns false when it had already been counted.
    /// </summary>
    [Alias("JobCompletedAsync")]
    Task<bool> JobCompletedAsync(string jobId, JsonNode? result, CancellationToken cancellationToken = default);
}

/// <summary>All workflows: creation and listing.</summary>
public interface IWorkflowCollection
{
    /// <summary>Creates the workflow and one job per step in one atomic step: all of them or none.</summary>
    Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default);
    /// <summary>Newest first; <paramref name="cursor"/> is the previous page's <see cref="Page{T}.NextCursor"/>.</summary>
    Task<Page<WorkflowState>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken = default);
}
