namespace Cluster.Grains.Interfaces.Workers;

/// <summary>What a worker can run (seed 001).</summary>
[GenerateSerializer, Alias("Cluster.WorkerCapabilities")]
public sealed record WorkerCapabilities
{
    [Id(0)] public double GpuMemory { get; init; }
    [Id(1)] public IReadOnlyList<string> ModelTypes { get; init; } = [];
    [Id(2)] public IReadOnlyList<string> Capabilities { get; init; } = [];
    /// <summary><c>fast-lane</c>, <c>standard</c> (the default) or <c>heavy</c>.</summary>
    [Id(3)] public string? PoolType { get; init; }

    /// <summary>
    /// Whether every model type and capability is a name of 1 to <see cref="Jobs.JobLimits.MaxIdLength"/> characters: what
    /// a worker may announce. JSON's types keep nulls out of the fields, not out of the lists.
    /// </summary>
    public bool HasValidNames() =>
        ModelTypes.Concat(Capabilities).All(c => c is { Length: > 0 and <= Jobs.JobLimits.MaxIdLength });
}

/// <summary>A worker announcing itself: one per GPU, each tied to its machine (seed 002).</summary>
[GenerateSerializer, Alias("Cluster.WorkerRegistration")]
public sealed record WorkerRegistration
{
    [Id(0)] public required string WorkerId { get; init; }
    [Id(1)] public required string MachineId { get; init; }
    [Id(2)] public string? Host { get; init; }
    [Id(3)] public int? GpuCount { get; init; }
    [Id(4)] public int? GpuIndex { get; init; }
    /// <summary>How many jobs it may hold at once.</summary>
    [Id(5)] public int Concurrency { get; init; } = 1;
    [Id(6)] public WorkerCapabilities Capabilities { get; init; } = new();
    [Id(7)] public string? SiloId { get; init; }
}

public static class WorkerStatus
{
    public const string Idle = "idle";
    public const string Busy = "busy";
    public const string Offline = "offline";
}

[GenerateSerializer, Alias("Cluster.WorkerState")]
public sealed record WorkerState
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string MachineId { get; init; }
    [Id(2)] public required string Status { get; init; }
    [Id(3)] public int Concurrency { get; init; }
    [Id(4)] public int Active { get; init; }
    [Id(5)] public string? CurrentJobId { get; init; }
    [Id(6)] public WorkerCapabilities? Capabilities { get; init; }
    [Id(7)] public int? GpuIndex { get; init; }
    [Id(8)] public string? RegisteredAt { get; init; }
    [Id(9)] public string? LastHeartbeat { get; init; }
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

[GenerateSerializer, Alias("Cluster.MachineState")]
public sealed record MachineState
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public string? Host { get; init; }
    [Id(3)] public int? GpuCount { get; init; }
    [Id(4)] public string? CreatedAt { get; init; }
    [Id(5)] public string? LastSeen { get; init; }
    [Id(6)] public IReadOnlyList<WorkerState> Workers { get; init; } = [];
}
