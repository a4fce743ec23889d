using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Workers;

/// <summary>
/// One machine on the Orleans runtime, created by its first worker's registration. It stores only what registrations
/// say (host, GPU count, its workers); its status and when it was last seen follow from its workers' states.
/// </summary>
public sealed class MachineGrain(
    [PersistentState("machine", JobGrain.Storage)] IPersistentState<MachineRecord> state) : Grain, IMachineGrain, IMachineControlGrain
{
    public const string Topic = "machines";

    private MachineRecord Machine => state.State;
    private string Id => this.GetPrimaryKeyString();

    public async Task<MachineState?> GetAsync(CancellationToken cancellationToken = default)
    {
        if (!Machine.Exists) return null;
        var states = await Task.WhenAll(Machine.Workers.Select(w => GrainFactory.GetGrain<IWorkerGrain>(w).GetAsync(cancellationToken)));
        var workers = states.OfType<WorkerState>().ToArray();
        var lastSeen = Iso(Machine.LastSeenMs);
        foreach (var worker in workers)
            if (string.CompareOrdinal(worker.LastHeartbeat, lastSeen) > 0) lastSeen = worker.LastHeartbeat;
        return new MachineState
        {
            Id = Id,
            Status = MachineStatus.From(workers),
            Host = Machine.Host,
            GpuCount = Machine.GpuCount,
            CreatedAt = Iso(Machine.CreatedMs),
            LastSeen = lastSeen,
            Workers = workers,
        };
    }

    public async Task AddWorkerAsync(string workerId, string? host, int? gpuCount)
    {
        var now = NowMs;
        if (!Machine.Exists)
        {
            Machine.CreatedMs = now;
            Machine.Outbox.SortedSetAdd("machines", Id, 0);
            Machine.Outbox.Publish(Topic, Id, new TopicEvent("machine_registered", new Dictionary<string, string>(StringComparer.Ordinal) { ["machine_id"] = Id }));
        }
        Machine.LastSeenMs = now;
        if (!string.IsNullOrEmpty(host)) Machine.Host = host;
        if (gpuCount is not null) Machine.GpuCount = gpuCount;
        var at = Machine.Workers.BinarySearch(workerId, StringComparer.Ordinal);
        if (at < 0) Machine.Workers.Insert(~at, workerId);
        await state.WriteStateAsync();
    }

    public async Task RemoveWorkerAsync(string workerId)
    {
        var at = Machine.Workers.BinarySearch(workerId, StringComparer.Ordinal);
        if (at < 0) return;
        Machine.Workers.RemoveAt(at);
        await state.WriteStateAsync();
    }
}
