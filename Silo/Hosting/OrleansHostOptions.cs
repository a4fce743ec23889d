namespace Cluster.Silo.Hosting;

/// <summary>The <c>Orleans</c> configuration section: which cluster the silo joins and where it listens for other silos.</summary>
public sealed class OrleansHostOptions
{
    public const string Section = "Orleans";

    /// <summary>Silos with the same cluster id on the same Redis form one cluster. Env: <c>Orleans__ClusterId</c>.</summary>
    public string ClusterId { get; set; } = "cluster";

    /// <summary>Names the grain state and reminders in Redis; keep it across deployments. Env: <c>Orleans__ServiceId</c>.</summary>
    public string ServiceId { get; set; } = "cluster";

    /// <summary>Silo-to-silo port; 0 (the default) picks a free one, so several silos can share a machine.</summary>
    public int SiloPort { get; set; }

    /// <summary>Port for Orleans clients; 0 (the default) picks a free one.</summary>
    public int GatewayPort { get; set; }

    /// <summary>
    /// The address other silos reach this one at. Empty: 127.0.0.1 when Redis is embedded or on this machine
    /// (the whole cluster is on one machine then), else the address Orleans finds for the host.
    /// </summary>
    public string? AdvertisedIPAddress { get; set; }

    /// <summary>
    /// Serve Orleans' own dashboard (grain and silo statistics) at <c>/orleans-dashboard</c> to admin keys. Off by
    /// default: it adds a filter to every grain call (docs/benchmarks.md has the cost). Set it alike on every silo
    /// of a cluster. Env: <c>Orleans__Dashboard</c>.
    /// </summary>
    public bool Dashboard { get; set; }
}
