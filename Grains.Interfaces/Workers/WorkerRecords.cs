namespace Cluster.Grains.Interfaces.Workers;

/// <summary>What a worker can run (seed 001).</summary>
public sealed record WorkerCapabilities
{
    public double GpuMemory { get; init; }
    public IReadOnlyList<string> ModelTypes { get; init; } = [];
    public IReadOnlyList<string> Capabilities { get; init; } = [];
    /// <summary><c>fast-lane</c>, <c>standard</c> (the default) or <c>heavy</c>.</summary>
    public string? PoolType { get; init; }
}

/// <summary>A worker announcing itself: one per GPU, each tied to its machine (seed 002).</summary>
public sealed record WorkerRegistration
{
    public required string WorkerId { get; init; }
    public required string MachineId { get; init; }
    public string? Host { get; init; }
    public int? GpuCount { get; init; }
    public int? GpuIndex { get; init; }
    /// <summary>How many jobs it may hold at once.</summary>
    public int Concurrency { get; init; } = 1;
    public WorkerCapabilities Capabilities { get; init; } = new();
    public string? SiloId { get; init; }
}

public static class WorkerStatus
{
    public const string Idle = "idle";
    public const string Busy = "busy";
    public const string Offline = "offline";
}

public sealed record WorkerState
{
    public required string Id { get; init; }
    public required string MachineId { get; init; }
    public required string Status { get; init; }
    public int Concurrency { get; init; }
    public int Active { get; init; }
    public string? CurrentJobId { get; init; }
    public WorkerCapabilities? Capabilities { get; init; }
    public int? GpuIndex { get; init; }
    public string? RegisteredAt { get; init; }
    public string? LastHeartbeat { get; init; }
}

public static class MachineStatus
{
    public const string Ready = "ready";
    public const string Busy = "busy";
    public const string Degraded = "degraded";
    public const string Offline = "offline";

    /// <summary>A machine's status follows from its workers': all offline → offline; some → degraded; all busy → busy.</summary>
    public static string From(IReadOnlyCollection<WorkerState> workers)
    {
        if (workers.Count == 0 || workers.All(w => w.Status == WorkerStatus.Offline)) return Offline;
        if (workers.Any(w => w.Status == WorkerStatus.Offline)) return Degraded;
        return workers.All(w => w.Status == WorkerStatus.Busy) ? Busy : Ready;
    }
}

public sealed record MachineState
{
    public required string Id { get; init; }
    public required string Status { get; init; }
    public string? Host { get; init; }
    public int? GpuCount { get; init; }
    public string? CreatedAt { get; init; }
    public string? LastSeen { get; init; }
    public IReadOnlyList<WorkerState> Workers { get; init; } = [];
}
