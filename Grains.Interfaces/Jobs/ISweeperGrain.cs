namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>
/// The cluster's one sweeper: every sweep interval it reads the due entries of <c>workers:heartbeats</c>,
/// <c>jobs:leases</c>, <c>jobs:deadlines</c> and <c>jobs:delayed</c> and wakes the grains concerned, so that what
/// a dead silo's timers would have done still happens. A reminder keeps it alive.
/// </summary>
[Alias("Cluster.ISweeperGrain")]
public interface ISweeperGrain : IGrainWithStringKey
{
    /// <summary>The key of the one sweeper.</summary>
    public const string Key = "0";

    /// <summary>Activates the sweeper (each silo calls it as it starts); nothing when it runs already.</summary>
    [Alias("Start")]
    Task StartAsync();

    /// <summary>One sweep now.</summary>
    [Alias("Sweep")]
    Task<SweepCounts> SweepAsync();
}

/// <summary>What one sweep changed: leases expired, attempts timed out, workers declared offline, retries made claimable.</summary>
[GenerateSerializer, Immutable, Alias("Cluster.SweepCounts")]
public sealed record SweepCounts(
    [property: Id(0)] int ExpiredLeases,
    [property: Id(1)] int TimedOut,
    [property: Id(2)] int WorkersLost,
    [property: Id(3)] int RetriesPromoted);
