using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cluster.Silo.Hosting;

/// <summary>
/// The project's meter and activity source names, in one place. Anything named <c>Cluster.*</c> is exported
/// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, so a new component only needs a name under that prefix.
/// </summary>
public static class Telemetry
{
    /// <summary>The wildcard the exporters subscribe to.</summary>
    public const string Wildcard = "Cluster.*";

    public const string SiloName = "Cluster.Silo";

    /// <summary>The silo's own instruments (API errors, …).</summary>
    public static readonly Meter Meter = new(SiloName);

    /// <summary>The silo's own spans.</summary>
    public static readonly ActivitySource ActivitySource = new(SiloName);

    /// <summary>ASP.NET Core's built-in meters and activity source, exported without the instrumentation packages (which are not obtainable).</summary>
    public static readonly string[] AspNetCoreMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];
    public const string AspNetCoreActivitySource = "Microsoft.AspNetCore";

    public const string ServiceName = "cluster-silo";
}
