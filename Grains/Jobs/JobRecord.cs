using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Storage;

namespace Cluster.Grains.Jobs;

/// <summary>
/// A job's persisted state: what <see cref="JobGrain"/> writes through the outbox storage. JSON documents are kept
/// as their text, so a write serialises no JSON tree and an empty array stays an array.
/// </summary>
[GenerateSerializer, Alias("Cluster.JobRecord")]
public sealed class JobRecord : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    public Outbox Outbox => _outbox ??= new();

    [Id(0)] public string Id { get; set; } = "";
    [Id(1)] public string Type { get; set; } = "";
    /// <summary>Empty until the job is created.</summary>
    [Id(2)] public string Status { get; set; } = "";
    [Id(3)] public int Priority { get; set; }
    [Id(4)] public string Payload { get; set; } = "{}";
    [Id(5)] public JobRequirements? Requirements { get; set; }
    [Id(6)] public int MaxRetries { get; set; }
    [Id(7)] public long TimeoutMs { get; set; }
    [Id(8)] public string? IdempotencyKey { get; set; }
    [Id(9)] public string? WebhookUrl { get; set; }
    [Id(10)] public IReadOnlyList<string>? WebhookEvents { get; set; }
    [Id(11)] public string? WorkflowId { get; set; }
    [Id(12)] public int? StepIndex { get; set; }
    /// <summary>Orders jobs of equal priority (first in, first out) and pages listings: the creation time in ticks.</summary>
    [Id(13)] public long Sequence { get; set; }
    [Id(14)] public int RetryCount { get; set; }
    [Id(15)] public int Attempts { get; set; }
    [Id(16)] public double Progress { get; set; }
    [Id(17)] public string? ProgressMessage { get; set; }
    [Id(18)] public string? Result { get; set; }
    [Id(19)] public JobError? Error { get; set; }
    [Id(20)] public string? WorkerId { get; set; }
    [Id(21)] public string? MachineId { get; set; }
    [Id(22)] public string? LeaseToken { get; set; }
    [Id(23)] public long LeaseExpiresAtMs { get; set; }
    [Id(24)] public long CreatedMs { get; set; }
    [Id(25)] public long AssignedMs { get; set; }
    [Id(26)] public long StartedMs { get; set; }
    [Id(27)] public long CompletedMs { get; set; }
    [Id(28)] public long FailedMs { get; set; }
    /// <summary>When a delayed job is due again.</summary>
    [Id(29)] public long RetryAtMs { get; set; }
    [Id(30)] public string? CancelReason { get; set; }
    /// <summary>The user whose key or login submitted the job; null for a key no user owns (an admin's).</summary>
    [Id(31)] public string? Tenant { get; set; }

    // ---- workflow steps (ids from 50, apart from the job's own fields) ----
    /// <summary>A step's payload as given, before its dependencies' results were spliced in as <c>inputs</c>.</summary>
    [Id(50)] public string? StepPayload { get; set; }
    /// <summary>How many times the workflow has restored the step; its notices carry it.</summary>
    [Id(51)] public int StepGeneration { get; set; }
    /// <summary>The workflow cancelled the job (so it knows); its retry of the step undoes that.</summary>
    [Id(52)] public bool CancelledByWorkflow { get; set; }

    public bool Exists => Status.Length > 0;
    public bool IsHeld => JobStatus.IsHeld(Status);
}
