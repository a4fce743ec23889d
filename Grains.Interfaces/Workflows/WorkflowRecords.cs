using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Grains.Interfaces.Workflows;

/// <summary>The states of a workflow: <c>running</c> until nothing is left to run.</summary>
public static class WorkflowStatus
{
    public const string Running = "running";
    /// <summary>Every step completed.</summary>
    public const string Completed = "completed";
    /// <summary>A step died (failed with no retries left) and nothing is left running.</summary>
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}

/// <summary>What a workflow does when one of its steps dies or is cancelled.</summary>
public static class WorkflowFailurePolicy
{
    /// <summary>Cancel every unfinished step; the workflow fails at once.</summary>
    public const string FailFast = "fail_fast";
    /// <summary>Cancel only the steps that depend on the failed one; independent branches go on.</summary>
    public const string Continue = "continue";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { FailFast, Continue };
}

public static class WorkflowLimits
{
    public const int DefaultMaxSteps = 100;
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 10_000;
}

/// <summary>Bounds on workflows. Bound to the <c>Workflows</c> configuration section.</summary>
public sealed record WorkflowOptions
{
    /// <summary>The most steps one workflow may have.</summary>
    public int MaxSteps { get; init; } = WorkflowLimits.DefaultMaxSteps;
}

/// <summary>One step: the job it runs and the indexes of the steps whose results it needs.</summary>
public sealed record WorkflowStepDefinition
{
    public required JobSubmission Job { get; init; }
    public IReadOnlyList<int> DependsOn { get; init; } = [];
}

/// <summary>A validated request to create a workflow; its steps form a DAG.</summary>
public sealed record WorkflowDefinition
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyList<WorkflowStepDefinition> Steps { get; init; }
    public string FailurePolicy { get; init; } = WorkflowFailurePolicy.FailFast;
    public string? WebhookUrl { get; init; }
    /// <summary>The steps as submitted, kept verbatim as the workflow's <c>steps</c> field (seed 001).</summary>
    public required JsonArray StepsJson { get; init; }
}

public sealed record CreatedWorkflow(string WorkflowId, IReadOnlyList<string> JobIds);

/// <summary>A workflow as stored in <c>workflow:{id}</c>.</summary>
public sealed record WorkflowState
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public required string Status { get; init; }
    public int TotalSteps { get; init; }
    public int CompletedSteps { get; init; }
    public int FailedSteps { get; init; }
    public double ProgressPercentage => TotalSteps == 0 ? 0 : Math.Round(100.0 * CompletedSteps / TotalSteps, 2);
    public string? FailurePolicy { get; init; }
    public string? WebhookUrl { get; init; }
    public string? CreatedAt { get; init; }
    public string? CompletedAt { get; init; }
}

/// <summary>One step of a workflow as its status shows it (seed 001's shape).</summary>
public sealed record WorkflowStep
{
    public required string JobId { get; init; }
    public int StepIndex { get; init; }
    public string? Type { get; init; }
    public required string Status { get; init; }
    public double Progress { get; init; }
    public JsonNode? Result { get; init; }
    public JobError? Error { get; init; }
    public IReadOnlyList<int> DependsOn { get; init; } = [];
}

/// <summary>A workflow and its steps, by step index.</summary>
public sealed record WorkflowView(WorkflowState Workflow, IReadOnlyList<WorkflowStep> Steps);
