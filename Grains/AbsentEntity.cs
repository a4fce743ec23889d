using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;

namespace Cluster.Grains;

/// <summary>
/// What an id that nothing can have names (empty, or only white space: Orleans refuses it as a grain key): a job,
/// worker, machine or workflow that does not exist, answering as a missing one does on either engine.
/// </summary>
internal sealed class AbsentEntity(string id) : IJobGrain, IWorkerGrain, IMachineGrain, IWorkflowGrain
{
    /// <summary>Whether <paramref name="id"/> can be a grain's key.</summary>
    public static bool CanName(string id) => !string.IsNullOrWhiteSpace(id);

    Task<JobState?> IJobGrain.GetAsync(CancellationToken cancellationToken) => Task.FromResult<JobState?>(null);
    Task IJobGrain.ReportProgressAsync(string leaseToken, double progress, string? message, CancellationToken cancellationToken) => throw NoJob();
    Task<bool> IJobGrain.CompleteAsync(string leaseToken, JsonNode? result, CancellationToken cancellationToken) => throw NoJob();
    Task<JobFailureOutcome> IJobGrain.FailAsync(string leaseToken, JobError error, bool retryable, CancellationToken cancellationToken) => throw NoJob();
    Task<IReadOnlyList<JsonObject>> IJobGrain.HistoryAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<JsonObject>>([]);
    Task IJobGrain.CancelAsync(string? reason, CancellationToken cancellationToken) => throw NoJob();
    Task IJobGrain.RetryAsync(CancellationToken cancellationToken) => throw NoJob();

    Task<int> IWorkerGrain.RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken) =>
        throw new ClusterException(ErrorCodes.ValidationError, "'worker_id' must not be blank");
    Task<IReadOnlyList<string>> IWorkerGrain.HeartbeatAsync(TimeSpan lease, IReadOnlyDictionary<string, string>? held, CancellationToken cancellationToken) => throw NoWorker();
    Task IWorkerGrain.UnregisterAsync(string reason, CancellationToken cancellationToken) => throw NoWorker();
    Task<WorkerState?> IWorkerGrain.GetAsync(CancellationToken cancellationToken) => Task.FromResult<WorkerState?>(null);

    Task<MachineState?> IMachineGrain.GetAsync(CancellationToken cancellationToken) => Task.FromResult<MachineState?>(null);

    Task<WorkflowView?> IWorkflowGrain.GetAsync(CancellationToken cancellationToken) => Task.FromResult<WorkflowView?>(null);
    Task IWorkflowGrain.CancelAsync(string? reason, CancellationToken cancellationToken) => throw NoWorkflow();
    Task IWorkflowGrain.RetryStepAsync(int stepIndex, CancellationToken cancellationToken) => throw NoWorkflow();
    Task<bool> IWorkflowGrain.JobCompletedAsync(string jobId, JsonNode? result, CancellationToken cancellationToken) => throw NoWorkflow();

    private ClusterException NoJob() => new(ErrorCodes.JobNotFound, "Job not found: " + id);
    private ClusterException NoWorker() => new(ErrorCodes.WorkerNotFound, "Worker not found: " + id);
    private ClusterException NoWorkflow() => new(ErrorCodes.WorkflowNotFound, "Workflow not found: " + id);
}
