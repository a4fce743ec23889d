using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Grains.Interfaces.Workflows;

/// <summary>
/// What the cluster's own code does to a workflow on the Orleans engine, beside what people do (<see cref="IWorkflowGrain"/>):
/// create it with its steps' jobs, hear that a step's job ended, read its record for a listing.
/// </summary>
[Alias("Cluster.IWorkflowControlGrain")]
public interface IWorkflowControlGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the workflow and one job per step: all of them or none. Checked before anything is written; the
    /// workflow is written first as <c>creating</c>, then its jobs, then it runs. Calling it again finishes (or
    /// returns) the same workflow.
    /// </summary>
    [Alias("Create")]
    Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition);

    /// <summary>
    /// A step's job completed, died or was cancelled (by someone other than the workflow). Promotes its dependents
    /// exactly once, or applies the failure policy. A repeated or stale notice changes nothing.
    /// </summary>
    [Alias("StepEnded")]
    Task StepEndedAsync(StepNotice notice);

    /// <summary>The workflow without its steps; null when there is none.</summary>
    [Alias("State")]
    Task<WorkflowState?> StateAsync();
}
