namespace Cluster.Grains;

/// <summary>Timing of leases, heartbeats and retries. Bound to the <c>Jobs</c> configuration section.</summary>
public sealed record ClusterGrainOptions
{
    /// <summary>How long a claimed job stays a worker's without a heartbeat or progress report.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A worker silent for this long is declared offline and its jobs go back in line.</summary>
    public TimeSpan WorkerTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The first retry waits this long; each further one twice as long (capped at an hour).</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How often one silo of the cluster sweeps expired leases, lapsed workers and due retries.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);
}
