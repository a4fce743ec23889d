using Microsoft.AspNetCore.Routing;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cluster.Grains.Interfaces;
using Cluster.Silo.Auth;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Diagnostics;

namespace Cluster.Silo.Hosting;

/// <summary>
/// The silo's metrics and traces: its own meter and activity source, what is collected, Prometheus on
/// <c>/metrics</c>, and OTLP export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. Anything named
/// <c>Cluster.*</c> is collected, so a new component only needs a name under that prefix.
/// </summary>
public static class Telemetry
{
    /// <summary>The wildcard that collects the project's own meters and activity sources.</summary>
    public const string Wildcard = "Cluster.*";

    public const string SiloName = "Cluster.Silo";

    public const string ServiceName = "cluster-silo";

    /// <summary>Where Prometheus scrapes: an admin key, or a caller on this machine without a key.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>The standard OTLP variable; the exporter reads it and the other <c>OTEL_EXPORTER_OTLP_*</c> itself.</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Orleans' meter (its <c>OrleansInstruments</c>), which has no public constant.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>The silo's own instruments (API errors, …).</summary>
    public static readonly Meter Meter = new(SiloName);

    /// <summary>The silo's own spans.</summary>
    public static readonly ActivitySource ActivitySource = new(SiloName);

    public static WebApplicationBuilder AddClusterTelemetry(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter(Wildcard, OrleansMeter)
                    .AddPrometheusExporter();
                if (otlp) metrics.AddOtlpExporter();
            });
        // Only with an exporter: Prometheus takes no spans, and recording spans nobody receives costs every request.
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddSource(Wildcard, ActivitySources.RuntimeActivitySourceName, ActivitySources.ApplicationGrainActivitySourceName)
                .AddOtlpExporter());
        }
        return builder;
    }

    /// <summary>Prometheus text at <see cref="MetricsPath"/> for an admin key, or for a caller on a loopback address that presents no key.</summary>
    public static IEndpointRouteBuilder MapClusterMetrics(this IEndpointRouteBuilder endpoints)
    {
        // The exporter answers every method; a scrape is a GET (or HEAD), anything else gets 405 in the error shape.
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath)
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]))
            .RequireScopeOrLoopback(ApiScopes.Admin);
        return endpoints;
    }
}
