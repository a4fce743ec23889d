using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>What a job needs from the worker that runs it (seed 001). Every field is optional.</summary>
public sealed record JobRequirements
{
    /// <summary>Minimum GPU memory in GB.</summary>
    public double? GpuMemory { get; init; }
    public string? ModelType { get; init; }
    /// <summary>Every one of these must be among the worker's capabilities.</summary>
    public IReadOnlyList<string>? Capabilities { get; init; }
    /// <summary><c>fast-lane</c>, <c>standard</c> (the default) or <c>heavy</c>: workers of that pool take it first.</summary>
    public string? PoolPreference { get; init; }
}

/// <summary>A validated request to run one job.</summary>
public sealed record JobSubmission
{
    public required string Type { get; init; }
    /// <summary>The job's input. Seed 001 stores the whole submitted body here.</summary>
    public required JsonObject Payload { get; init; }
    public int Priority { get; init; } = JobLimits.DefaultPriority;
    public JobRequirements? Requirements { get; init; }
    public int MaxRetries { get; init; } = JobLimits.DefaultMaxRetries;
    /// <summary>How long an attempt may run before it is failed with TIMEOUT; 0 for no limit.</summary>
    public long TimeoutMs { get; init; }
    /// <summary>Submitting twice with the same key within 24 h returns the first job.</summary>
    public string? IdempotencyKey { get; init; }
    public string? WebhookUrl { get; init; }
    /// <summary>Events besides the terminal ones to send to <see cref="WebhookUrl"/>: <c>failed</c>, <c>progress</c>.</summary>
    public IReadOnlyList<string>? WebhookEvents { get; init; }
}

/// <summary>The result of a submission: the job's id, and whether it is new or an idempotent repeat.</summary>
public sealed record SubmittedJob(string JobId, bool Created);

/// <summary>Why a job failed.</summary>
public sealed record JobError(string Code, string Message);

/// <summary>A job as stored in <c>job:{id}</c>, as the API and the dashboard show it.</summary>
public sealed record JobState
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public required string Status { get; init; }
    public int Priority { get; init; }
    public JsonNode? Payload { get; init; }
    public JobRequirements? Requirements { get; init; }
    public double Progress { get; init; }
    public string? ProgressMessage { get; init; }
    public JsonNode? Result { get; init; }
    public JobError? Error { get; init; }
    public string? WorkerId { get; init; }
    public string? MachineId { get; init; }
    public string? WorkflowId { get; init; }
    /// <summary>The job's step in its workflow.</summary>
    public int? StepIndex { get; init; }
    public int RetryCount { get; init; }
    public int MaxRetries { get; init; }
    public int Attempts { get; init; }
    public long TimeoutMs { get; init; }
    public string? CreatedAt { get; init; }
    public string? AssignedAt { get; init; }
    public string? StartedAt { get; init; }
    public string? CompletedAt { get; init; }
    public string? FailedAt { get; init; }
    public string? WebhookUrl { get; init; }
}

/// <summary>A job handed to a worker, with the lease token that must accompany progress, completion and failure.</summary>
public sealed record JobAssignment(JobState Job, string LeaseToken, long LeaseExpiresAtMs);

/// <summary>Filters for listing jobs; all optional. Results are newest first.</summary>
public sealed record JobQuery
{
    public string? Status { get; init; }
    public string? Type { get; init; }
    public string? WorkerId { get; init; }
    public string? MachineId { get; init; }
    public string? WorkflowId { get; init; }
    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    public string? Cursor { get; init; }
    public int Limit { get; init; } = 50;
}

/// <summary>One page of a listing and the cursor for the next, null at the end.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>Bounds on what a job may ask for.</summary>
public static class JobLimits
{
    public const int MinPriority = 0;
    public const int MaxPriority = 1000;
    public const int DefaultPriority = 50;
    public const int DefaultMaxRetries = 3;
    public const int MaxRetriesLimit = 100;
    public const int MaxIdLength = 128;
    public const int MaxListLimit = 500;
}
