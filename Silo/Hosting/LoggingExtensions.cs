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
        var configuration = new LoggerConfiguration().MinimumLevel.Information();
        if (check.Problem is null) configuration.ReadFrom.Configuration(builder.Configuration);
        var logger = configuration
            .Filter.ByExcluding(IsTheHostsStartFailure)
            .Enrich.With<SecretRedactingEnricher>()
            .WriteTo.Console(outputTemplate: OutputTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .WriteTo.File(
                Path.Combine(cluster.LogDir, "silo-.log"),
                rollingInterval: RollingInterval.Day,
                retainedFileCountLimit: 14,
                outputTemplate: OutputTemplate,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                restrictedToMinimumLevel: LogEventLevel.Verbose)
            .CreateLogger();

        builder.Logging.ClearProviders();
        // Serilog's own levels decide; the Microsoft filter would otherwise drop Debug before Serilog saw it.
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddSerilog(logger, dispose: true);
        return builder;
    }

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
