using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Storage;

namespace Cluster.Grains.Workers;

/// <summary>
/// A worker's persisted state: what <see cref="WorkerGrain"/> writes through the outbox storage on registration, on
/// going offline and at most every third of the worker timeout while it heartbeats. The held jobs stored are those
/// of the last write; a hold taken since and lost with a silo ends when its lease expires.
/// </summary>
[GenerateSerializer, Alias("Cluster.WorkerRecord")]
public sealed class WorkerRecord : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    public Outbox Outbox => _outbox ??= new();

    [Id(0)] public string MachineId { get; set; } = "";
    /// <summary>Empty until the worker registers; then <c>idle</c> while online (busy follows from its holds) or <c>offline</c>.</summary>
    [Id(1)] public string Status { get; set; } = "";
    [Id(2)] public int Concurrency { get; set; } = 1;
    [Id(3)] public WorkerCapabilities? Capabilities { get; set; }
    [Id(4)] public int? GpuIndex { get; set; }
    [Id(5)] public string? SiloId { get; set; }
    [Id(6)] public long RegisteredMs { get; set; }
    [Id(7)] public long LastHeartbeatMs { get; set; }
    [Id(8)] public long OfflineMs { get; set; }
    /// <summary>The jobs it holds, each with the lease token of its hold.</summary>
    [Id(9)] public Dictionary<string, string> Held { get; set; } = [];
    /// <summary>The job it took last, until any of its jobs is released (<c>current_job_id</c> in the API).</summary>
    [Id(10)] public string? CurrentJobId { get; set; }

    public bool Registered => Status.Length > 0;
    public bool Offline => Status == WorkerStatus.Offline;
}
