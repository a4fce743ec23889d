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
[GenerateSerializer, Alias("Cluster.WorkflowOptions")]
public sealed record WorkflowOptions
{
    /// <summary>The most steps one workflow may have.</summary>
    [Id(0)] public int MaxSteps { get; init; } = WorkflowLimits.DefaultMaxSteps;
}

/// <summary>One step: the job it runs and the indexes of the steps whose results it needs.</summary>
[GenerateSerializer, Alias("Cluster.WorkflowStepDefinition")]
public sealed record WorkflowStepDefinition
{
    [Id(0)] public required JobSubmission Job { get; init; }
    [Id(1)] public IReadOnlyList<int> DependsOn { get; init; } = [];
}

/// <summary>A validated request to create a workflow; its steps form a DAG.</summary>
[GenerateSerializer, Alias("Cluster.WorkflowDefinition")]
public sealed record WorkflowDefinition
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public string? Description { get; init; }
    [Id(2)] public required IReadOnlyList<WorkflowStepDefinition> Steps { get; init; }
    [Id(3)] public string FailurePolicy { get; init; } = WorkflowFailurePolicy.FailFast;
    [Id(4)] public string? WebhookUrl { get; init; }
    /// <summary>The steps as submitted, kept verbatim as the workflow's <c>steps</c> field (seed 001).</summary>
    [Id(5)] public required JsonArray StepsJson { get; init; }
    /// <summary>The user the workflow and its steps' jobs belong to; null for a key no user owns.</summary>
    [Id(6)] public string? Tenant { get; init; }
}

[GenerateSerializer, Alias("Cluster.CreatedWorkflow")]
public sealed record CreatedWorkflow([property: Id(0)] string WorkflowId, [property: Id(1)] IReadOnlyList<string> JobIds);

/// <summary>A workflow as stored in <c>workflow:{id}</c>.</summary>
[GenerateSerializer, Alias("Cluster.WorkflowState")]
public sealed record WorkflowState
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public string? Name { get; init; }
    [Id(2)] public string? Description { get; init; }
    [Id(3)] public required string Status { get; init; }
    [Id(4)] public int TotalSteps { get; init; }
    [Id(5)] public int CompletedSteps { get; init; }
    [Id(6)] public int FailedSteps { get; init; }
    public double ProgressPercentage => TotalSteps == 0 ? 0 : Math.Round(100.0 * CompletedSteps / TotalSteps, 2);
    [Id(7)] public string? FailurePolicy { get; init; }
    [Id(8)] public string? WebhookUrl { get; init; }
    [Id(9)] public string? CreatedAt { get; init; }
    [Id(10)] public string? CompletedAt { get; init; }
    /// <summary>The user the workflow belongs to; not part of the API's answers.</summary>
    [Id(11), System.Text.Json.Serialization.JsonIgnore] public string? Tenant { get; init; }
}

/// <summary>One step of a workflow as its status shows it (seed 001's shape).</summary>
[GenerateSerializer, Alias("Cluster.WorkflowStep")]
public sealed record WorkflowStep
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int StepIndex { get; init; }
    [Id(2)] public string? Type { get; init; }
    [Id(3)] public required string Status { get; init; }
    [Id(4)] public double Progress { get; init; }
    [Id(5)] public JsonNode? Result { get; init; }
    [Id(6)] public JobError? Error { get; init; }
    [Id(7)] public IReadOnlyList<int> DependsOn { get; init; } = [];
}

/// <summary>A workflow and its steps, by step index.</summary>
[GenerateSerializer, Alias("Cluster.WorkflowView")]
public sealed record WorkflowView([property: Id(0)] WorkflowState Workflow, [property: Id(1)] IReadOnlyList<WorkflowStep> Steps);
