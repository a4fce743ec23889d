using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Exports metrics and traces over OTLP for the silo's lifetime. The exporter reads its endpoint, protocol and
/// headers from the standard <c>OTEL_EXPORTER_OTLP_*</c> variables; stopping flushes what is buffered.
/// </summary>
public sealed class OpenTelemetryExport : IHostedService, IDisposable
{
    private MeterProvider? _meters;
    private TracerProvider? _traces;

    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        void Resource(ResourceBuilder resource) => resource.AddService(Telemetry.ServiceName, serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}");
        _meters = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(Resource)
            .AddMeter([Telemetry.Wildcard, .. Telemetry.AspNetCoreMeters])
            .AddOtlpExporter()
            .Build();
        _traces = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(Resource)
            .AddSource(Telemetry.Wildcard, Telemetry.AspNetCoreActivitySource)
            .AddOtlpExporter()
            .Build();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _traces?.Dispose();
        _meters?.Dispose();
        _traces = null;
        _meters = null;
    }
}
