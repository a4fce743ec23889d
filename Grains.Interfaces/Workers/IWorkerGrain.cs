using Orleans.Concurrency;

namespace Cluster.Grains.Interfaces.Workers;

/// <summary>One worker (one GPU of a machine), addressed by its id.</summary>
[Alias("Cluster.IWorkerGrain")]
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Registers or re-registers; returns how many jobs it held from before were put back in line.</summary>
    [Alias("RegisterAsync")]
    Task<int> RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken = default);
    /// <summary>
    /// Renews the worker and all its leases; returns the ids of the jobs it still holds. <paramref name="held"/> names
    /// the jobs the worker's connection knows it runs (job id to lease token), for an engine that may have forgotten
    /// one; each is kept only while its job still grants that lease.
    /// </summary>
    [Alias("HeartbeatAsync")]
    Task<IReadOnlyList<string>> HeartbeatAsync(TimeSpan lease, IReadOnlyDictionary<string, string>? held = null, CancellationToken cancellationToken = default);
    /// <summary>Takes the worker offline; its jobs go back in line at once.</summary>
    [Alias("UnregisterAsync")]
    Task UnregisterAsync(string reason, CancellationToken cancellationToken = default);
    /// <summary>Interleaves: it only reads, and a machine reading its workers must not wait on one that is registering with it.</summary>
    [Alias("GetAsync"), AlwaysInterleave]
    Task<WorkerState?> GetAsync(CancellationToken cancellationToken = default);
}

/// <summary>One machine, addressed by its machine_id; its state is derived from its workers'.</summary>
[Alias("Cluster.IMachineGrain")]
public interface IMachineGrain : IGrainWithStringKey
{
    [Alias("GetAsync")]
    Task<MachineState?> GetAsync(CancellationToken cancellationToken = default);
}
