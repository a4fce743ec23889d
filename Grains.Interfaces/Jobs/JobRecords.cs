using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>What a job needs from the worker that runs it (seed 001). Every field is optional.</summary>
[GenerateSerializer, Alias("Cluster.JobRequirements")]
public sealed record JobRequirements
{
    /// <summary>Minimum GPU memory in GB.</summary>
    [Id(0)] public double? GpuMemory { get; init; }
    [Id(1)] public string? ModelType { get; init; }
    /// <summary>Every one of these must be among the worker's capabilities.</summary>
    [Id(2)] public IReadOnlyList<string>? Capabilities { get; init; }
    /// <summary><c>fast-lane</c>, <c>standard</c> (the default) or <c>heavy</c>: workers of that pool take it first.</summary>
    [Id(3)] public string? PoolPreference { get; init; }
}

/// <summary>A validated request to run one job.</summary>
[GenerateSerializer, Alias("Cluster.JobSubmission")]
public sealed record JobSubmission
{
    [Id(0)] public required string Type { get; init; }
    /// <summary>The job's input. Seed 001 stores the whole submitted body here.</summary>
    [Id(1)] public required JsonObject Payload { get; init; }
    [Id(2)] public int Priority { get; init; } = JobLimits.DefaultPriority;
    [Id(3)] public JobRequirements? Requirements { get; init; }
    [Id(4)] public int MaxRetries { get; init; } = JobLimits.DefaultMaxRetries;
    /// <summary>How long an attempt may run before it is failed with TIMEOUT; 0 for no limit.</summary>
    [Id(5)] public long TimeoutMs { get; init; }
    /// <summary>Submitting twice with the same key within 24 h returns the first job.</summary>
    [Id(6)] public string? IdempotencyKey { get; init; }
    [Id(7)] public string? WebhookUrl { get; init; }
    /// <summary>Events besides the terminal ones to send to <see cref="WebhookUrl"/>: <c>failed</c>, <c>progress</c>.</summary>
    [Id(8)] public IReadOnlyList<string>? WebhookEvents { get; init; }
    /// <summary>The user the job belongs to (who submitted it); null for a key no user owns. Only it, monitors and admins see the job.</summary>
    [Id(9)] public string? Tenant { get; init; }
}

/// <summary>The result of a submission: the job's id, and whether it is new or an idempotent repeat.</summary>
[GenerateSerializer, Alias("Cluster.SubmittedJob")]
public sealed record SubmittedJob([property: Id(0)] string JobId, [property: Id(1)] bool Created);

/// <summary>Why a job failed.</summary>
[GenerateSerializer, Alias("Cluster.JobError")]
public sealed record JobError([property: Id(0)] string Code, [property: Id(1)] string Message);

/// <summary>A job as stored in <c>job:{id}</c>, as the API and the dashboard show it.</summary>
[GenerateSerializer, Alias("Cluster.JobState")]
public sealed record JobState
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required string Status { get; init; }
    [Id(3)] public int Priority { get; init; }
    [Id(4)] public JsonNode? Payload { get; init; }
    [Id(5)] public JobRequirements? Requirements { get; init; }
    [Id(6)] public double Progress { get; init; }
    [Id(7)] public string? ProgressMessage { get; init; }
    [Id(8)] public JsonNode? Result { get; init; }
    [Id(9)] public JobError? Error { get; init; }
    [Id(10)] public string? WorkerId { get; init; }
    [Id(11)] public string? MachineId { get; init; }
    [Id(12)] public string? WorkflowId { get; init; }
    /// <summary>The job's step in its workflow.</summary>
    [Id(13)] public int? StepIndex { get; init; }
    [Id(14)] public int RetryCount { get; init; }
    [Id(15)] public int MaxRetries { get; init; }
    [Id(16)] public int Attempts { get; init; }
    [Id(17)] public long TimeoutMs { get; init; }
    [Id(18)] public string? CreatedAt { get; init; }
    [Id(19)] public string? AssignedAt { get; init; }
    [Id(20)] public string? StartedAt { get; init; }
    [Id(21)] public string? CompletedAt { get; init; }
    [Id(22)] public string? FailedAt { get; init; }
    [Id(23)] public string? WebhookUrl { get; init; }
    /// <summary>The user the job belongs to; not part of the API's answers, which show the job to its tenant, monitors and admins only.</summary>
    [Id(24), System.Text.Json.Serialization.JsonIgnore] public string? Tenant { get; init; }
}

/// <summary>A job handed to a worker, with the lease token that must accompany progress, completion and failure.</summary>
[GenerateSerializer, Alias("Cluster.JobAssignment")]
public sealed record JobAssignment([property: Id(0)] JobState Job, [property: Id(1)] string LeaseToken, [property: Id(2)] long LeaseExpiresAtMs);

/// <summary>Filters for listing jobs; all optional. Results are newest first.</summary>
[GenerateSerializer, Alias("Cluster.JobQuery")]
public sealed record JobQuery
{
    [Id(0)] public string? Status { get; init; }
    [Id(1)] public string? Type { get; init; }
    [Id(2)] public string? WorkerId { get; init; }
    [Id(3)] public string? MachineId { get; init; }
    [Id(4)] public string? WorkflowId { get; init; }
    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    [Id(5)] public string? Cursor { get; init; }
    [Id(6)] public int Limit { get; init; } = 50;
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
