using Cluster.Grains.Storage;

namespace Cluster.Grains.Workers;

/// <summary>A machine's persisted state: what <see cref="MachineGrain"/> writes as workers register on it.</summary>
[GenerateSerializer, Alias("Cluster.MachineRecord")]
public sealed class MachineRecord : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    public Outbox Outbox => _outbox ??= new();

    [Id(0)] public string? Host { get; set; }
    [Id(1)] public int? GpuCount { get; set; }
    /// <summary>0 until its first worker registers.</summary>
    [Id(2)] public long CreatedMs { get; set; }
    /// <summary>Its last worker registration; heartbeats since are its workers'.</summary>
    [Id(3)] public long LastSeenMs { get; set; }
    /// <summary>Its workers' ids, in order.</summary>
    [Id(4)] public List<string> Workers { get; set; } = [];

    public bool Exists => CreatedMs > 0;
}
