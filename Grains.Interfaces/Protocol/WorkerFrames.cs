using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Grains.Interfaces.Protocol;

/// <summary>
/// The worker protocol on <c>/ws/worker</c>: JSON text frames <c>{"v":1,"type":…}</c>, snake_case.
/// A worker registers, then the silo pushes it jobs up to its concurrency; the worker reports progress,
/// completes or fails each job with the lease token it came with, and heartbeats to keep its leases.
/// Every frame a worker sends may carry an <c>id</c>; the silo answers it with an <c>ack</c> or an
/// <c>error</c> frame naming that id. See docs/protocol.md.
/// </summary>
public static class WorkerFrameTypes
{
    // worker → silo
    public const string Register = "register";
    public const string Heartbeat = "heartbeat";
    public const string Progress = "progress";
    public const string Complete = "complete";
    public const string Fail = "fail";

    // silo → worker
    public const string Registered = "registered";
    public const string JobAssigned = "job_assigned";
    /// <summary>A job the worker holds was cancelled or its lease lost; stop working on it.</summary>
    public const string JobRevoked = "job_revoked";
    public const string Ack = "ack";
    public const string Error = "error";
}

/// <summary>The envelope every frame shares; read first to learn the type.</summary>
public record WorkerFrame
{
    public const int ProtocolVersion = 1;
    public int V { get; init; } = ProtocolVersion;
    public string Type { get; init; } = "";
    /// <summary>Set by the sender of a command; echoed in the reply's <c>ack</c>.</summary>
    public string? Id { get; init; }
}

public sealed record RegisterFrame : WorkerFrame
{
    public string WorkerId { get; init; } = "";
    public string MachineId { get; init; } = "";
    public string? Host { get; init; }
    public int? GpuCount { get; init; }
    public int? GpuIndex { get; init; }
    public int Concurrency { get; init; } = 1;
    public WorkerCapabilities Capabilities { get; init; } = new();
}

public sealed record RegisteredFrame : WorkerFrame
{
    public string? Ack { get; init; }
    public required string WorkerId { get; init; }
    /// <summary>How long a lease lasts without renewal.</summary>
    public long LeaseMs { get; init; }
    /// <summary>How often the worker should heartbeat (a third of the lease).</summary>
    public long HeartbeatMs { get; init; }
    /// <summary>Jobs this worker held before it registered again, now back in the queue.</summary>
    public int ReturnedJobs { get; init; }
}

public sealed record ProgressFrame : WorkerFrame
{
    public string JobId { get; init; } = "";
    public string LeaseToken { get; init; } = "";
    public double Progress { get; init; }
    public string? Message { get; init; }
}

public sealed record CompleteFrame : WorkerFrame
{
    public string JobId { get; init; } = "";
    public string LeaseToken { get; init; } = "";
    public JsonNode? Result { get; init; }
}

public sealed record FailFrame : WorkerFrame
{
    public string JobId { get; init; } = "";
    public string LeaseToken { get; init; } = "";
    public JobError Error { get; init; } = new("ERROR", "");
    /// <summary>False ends the job now; true (the default) retries it while retries remain.</summary>
    public bool Retryable { get; init; } = true;
}

public sealed record JobAssignedFrame : WorkerFrame
{
    public required JobState Job { get; init; }
    public required string LeaseToken { get; init; }
    public long LeaseExpiresAt { get; init; }
}

public sealed record JobRevokedFrame : WorkerFrame
{
    public required string JobId { get; init; }
    public required string Reason { get; init; }
}

public sealed record AckFrame : WorkerFrame
{
    public string? Ack { get; init; }
    /// <summary>For a heartbeat: the jobs the worker still holds.</summary>
    public IReadOnlyList<string>? Jobs { get; init; }
}

public sealed record ErrorFrame : WorkerFrame
{
    public string? Ack { get; init; }
    public required ErrorBody Error { get; init; }
}

public sealed record ErrorBody(string Code, string Message);
