namespace Cluster.Grains.Interfaces.Workers;

/// <summary>One worker (one GPU of a machine), addressed by its id.</summary>
public interface IWorkerGrain
{
    string Id { get; }
    /// <summary>Registers or re-registers; returns how many jobs it held from before were put back in line.</summary>
    Task<int> RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken = default);
    /// <summary>Renews the worker and all its leases; returns the ids of the jobs it still holds.</summary>
    Task<IReadOnlyList<string>> HeartbeatAsync(TimeSpan lease, CancellationToken cancellationToken = default);
    /// <summary>Takes the worker offline; its jobs go back in line at once.</summary>
    Task UnregisterAsync(string reason, CancellationToken cancellationToken = default);
    Task<WorkerState?> GetAsync(CancellationToken cancellationToken = default);
}

/// <summary>One machine, addressed by its machine_id; its state is derived from its workers'.</summary>
public interface IMachineGrain
{
    string Id { get; }
    Task<MachineState?> GetAsync(CancellationToken cancellationToken = default);
}
