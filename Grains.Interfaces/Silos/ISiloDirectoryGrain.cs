namespace Cluster.Grains.Interfaces.Silos;

/// <summary>
/// What each silo says of itself every few seconds (its HTTP addresses, connections, memory), held in memory by
/// one grain for the cluster. Membership itself is Orleans': a report only enriches a silo that membership
/// lists as active, so a killed silo drops out when Orleans declares it dead, not when its reports stop.
/// </summary>
[Alias("Cluster.ISiloDirectoryGrain")]
public interface ISiloDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>The one directory of the cluster.</summary>
    public const long Key = 0;

    [Alias("Report")]
    Task ReportAsync(SiloReport report);

    /// <summary>The latest report of every silo that reported recently, by Orleans silo address.</summary>
    [Alias("List")]
    Task<IReadOnlyDictionary<string, SiloReport>> ListAsync();
}

[GenerateSerializer, Immutable, Alias("Cluster.SiloReport")]
public sealed record SiloReport
{
    /// <summary>The Orleans silo address (<c>ip:port@generation</c>), the key membership knows it by.</summary>
    [Id(0)] public required string SiloAddress { get; init; }
    [Id(1)] public required int ProcessId { get; init; }
    /// <summary>The silo's HTTP addresses, space-separated.</summary>
    [Id(2)] public required string Addresses { get; init; }
    [Id(3)] public int Workers { get; init; }
    [Id(4)] public int Subscribers { get; init; }
    [Id(5)] public long MemoryMb { get; init; }
    [Id(6)] public DateTime ReportedAt { get; init; }
}
