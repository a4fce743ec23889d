using System.Globalization;
using Serilog;
using Serilog.Events;

namespace Cluster.Silo.Hosting;

public static class LoggingExtensions
{
    private const string OutputTemplate = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Serilog behind <see cref="ILogger"/>: the console and a daily rolling file under <c>&lt;DataDir&gt;/logs/</c>,
    /// levels from the <c>Serilog</c> configuration section, secrets masked.
    /// </summary>
    public static WebApplicationBuilder AddClusterLogging(this WebApplicationBuilder builder, ConfigurationCheck check)
    {
        var cluster = check.Cluster;
        var configuration = builder.Configuration;
        // Serilog is the only sink: no second console logger from the host's defaults.
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger =>
        {
            logger.MinimumLevel.Information();
            // A bad Serilog section must not stop the silo from logging why it will not start.
            if (check.Problem is null) logger.ReadFrom.Configuration(configuration);
            logger
                .Filter.ByExcluding(IsTheHostsStartFailure)
                .Filter.ByExcluding(e => IsAnImpossibleWatchdogStall(e, DateTime.Now - ProcessStarted))
                .Enrich.With<SecretRedactingEnricher>()
                .WriteTo.Console(outputTemplate: OutputTemplate, formatProvider: CultureInfo.InvariantCulture)
                .WriteTo.File(
                    Path.Combine(cluster.LogDir, "silo-.log"),
                    rollingInterval: RollingInterval.Day,
                    retainedFileCountLimit: 14,
                    outputTemplate: OutputTemplate,
                    formatProvider: CultureInfo.InvariantCulture);
        });
        return builder;
    }

    /// <summary>
    /// One Debug event per request (method, path without the query, status, time), written when the response is
    /// done. Debug, because at Information a busy silo would log every job submission and worker call; turn it on
    /// with <c>Serilog__MinimumLevel__Override__Serilog.AspNetCore.RequestLoggingMiddleware=Debug</c>. Failures are
    /// not raised above Debug here: <see cref="Api.ApiErrorMiddleware"/> already logs them once.
    /// </summary>
    public static WebApplication UseClusterRequestLogging(this WebApplication app)
    {
        app.UseSerilogRequestLogging(options => options.GetLevel = (_, _, _) => LogEventLevel.Debug);
        return app;
    }

    private static readonly DateTime ProcessStarted = System.Diagnostics.Process.GetCurrentProcess().StartTime;

    /// <summary>
    /// Orleans 10.4.2's watchdog starts its checking thread before it stamps the time of the last check, so its first
    /// look can report a stall measured from the machine's boot ("Participant check thread has not completed for
    /// 02:04:42"), which newcomers read as a deadlock. A stall longer than the process has existed cannot be real;
    /// every other watchdog warning is kept.
    /// </summary>
    public static bool IsAnImpossibleWatchdogStall(LogEvent e, TimeSpan processUptime) =>
        e.Properties.TryGetValue("SourceContext", out var source)
        && source is ScalarValue { Value: "Orleans.Runtime.Watchdog" }
        && e.Properties.TryGetValue("TimeSinceLastTick", out var stall)
        && stall is ScalarValue { Value: TimeSpan duration }
        && duration > processUptime;

    /// <summary>
    /// The silo reports a failed start itself, in one line, with the stack trace only when the cause is
    /// unexpected (<see cref="SiloRunner"/>). The host's own report would add a stack trace above it for
    /// a plain cause such as a port in use.
    /// </summary>
    private static bool IsTheHostsStartFailure(LogEvent e) =>
        e.MessageTemplate.Text == "Hosting failed to start"
        && e.Properties.TryGetValue("SourceContext", out var source)
        && source is ScalarValue { Value: "Microsoft.Extensions.Hosting.Internal.Host" };
}
