using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Storage;

namespace Cluster.Grains.Workflows;

/// <summary>
/// A workflow's persisted state: what <see cref="WorkflowGrain"/> writes through the outbox storage. The workflow
/// is the authority on its steps' progress: its decisions (which step is pending, cancelled, restored) are written
/// here first, with their events, and carried out on the steps' jobs after the write, again after a crash.
/// </summary>
[GenerateSerializer, Alias("Cluster.WorkflowRecord")]
public sealed class WorkflowRecord : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    public Outbox Outbox => _outbox ??= new();

    /// <summary>Empty until created; <see cref="WorkflowGrain.Creating"/> while its jobs are being created.</summary>
    [Id(0)] public string Status { get; set; } = "";
    [Id(1)] public string Name { get; set; } = "";
    [Id(2)] public string? Description { get; set; }
    [Id(3)] public string FailurePolicy { get; set; } = "";
    [Id(4)] public string? WebhookUrl { get; set; }
    /// <summary>The steps as submitted (seed 001's <c>steps</c> field), JSON text.</summary>
    [Id(5)] public string StepsJson { get; set; } = "[]";
    [Id(6)] public long CreatedMs { get; set; }
    [Id(7)] public long CompletedMs { get; set; }
    /// <summary>Orders the listing (<c>workflows</c>), newest first: microseconds since 1970 at creation.</summary>
    [Id(8)] public long Sequence { get; set; }
    [Id(9)] public List<StepRecord> Steps { get; set; } = [];
    /// <summary>The jobs to create, kept only while <see cref="WorkflowGrain.Creating"/>.</summary>
    [Id(10)] public List<JobSubmission>? Submissions { get; set; }
    [Id(11)] public int CompletedSteps { get; set; }
    [Id(12)] public int FailedSteps { get; set; }
    /// <summary>The user the workflow belongs to; null for a key no user owns.</summary>
    [Id(13)] public string? Tenant { get; set; }

    public bool Exists => Status.Length > 0 && Status != WorkflowGrain.Creating;
}

/// <summary>What a workflow knows of one step, and what it has yet to do to the step's job.</summary>
[GenerateSerializer, Alias("Cluster.WorkflowStepRecord")]
public sealed class StepRecord
{
    [Id(0)] public string JobId { get; set; } = "";
    [Id(1)] public string Type { get; set; } = "";
    [Id(2)] public int[] DependsOn { get; set; } = [];
    [Id(3)] public int[] Dependents { get; set; } = [];
    /// <summary>
    /// waiting, pending (unfinished: pending, delayed, assigned or running; the job knows which), completed, dead or
    /// cancelled.
    /// </summary>
    [Id(4)] public string Status { get; set; } = "";
    /// <summary>The result as JSON text, kept for the dependents' inputs.</summary>
    [Id(5)] public string? Result { get; set; }
    [Id(6)] public int Generation { get; set; }
    /// <summary>Cancelled by the failure policy: retrying the step that caused it brings this one back (fail_fast).</summary>
    [Id(7)] public bool CancelledByPolicy { get; set; }
    /// <summary>What is to be done to the job once the decision is written; none when done.</summary>
    [Id(8)] public StepAction Action { get; set; }
    [Id(9)] public string ActionReason { get; set; } = "";
    /// <summary>The job's place in line, taken in step order at creation.</summary>
    [Id(10)] public long Sequence { get; set; }

    public bool IsUnfinished => Status is JobStatus.Waiting or JobStatus.Pending;
}

[GenerateSerializer, Alias("Cluster.WorkflowStepAction")]
public enum StepAction { None, Promote, Cancel, Restore }
