using StackExchange.Redis;

namespace Cluster.Silo.Hosting;

public static partial class SiloRunner
{
    /// <summary>
    /// Prepares Redis, then serves until SIGINT or SIGTERM; returns the process exit code. A silo that cannot
    /// start says why in one line on stderr and returns 1; anything it started is stopped first.
    /// </summary>
    public static async Task<int> RunClusterAsync(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Cluster.Silo");
        var signals = new StartupSignals();
        try
        {
            app.Services.GetRequiredService<ConfigurationCheck>().ThrowIfInvalid();
            HttpAddressCheck.ThrowIfInUse(app.Configuration);
            await app.Services.GetRequiredService<SiloStartup>().RunAsync(signals.Token).ConfigureAwait(false);
            await app.StartAsync(signals.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Token.IsCancellationRequested)
        {
            LogStoppedWhileStarting(logger);
            signals.Dispose();
            await app.DisposeAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e)
        {
            var message = Describe(e);
            if (e is SiloStartupException or IOException || IsRedisFailure(e)) LogCannotStart(logger, message);
            else LogCannotStartUnexpectedly(logger, e, message);
            signals.Dispose();
            await StopWhatStartedAsync(app).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            await Console.Error.WriteLineAsync("cluster-silo: " + message).ConfigureAwait(false);
            return 1;
        }
        signals.Dispose();

        ReadyBanner.Print(app);
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// The Orleans silo starts before the web server binds its port; when the bind fails, stopping it gracefully
    /// here keeps its shutdown quiet, where disposing the host would cut it short and log every interrupted stage.
    /// </summary>
    private static async Task StopWhatStartedAsync(WebApplication app)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await app.StopAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or AggregateException)
        {
            // Stopping is best effort on this path: the reason the silo did not start has been said.
        }
    }

    private static bool IsRedisFailure(Exception e) => e is RedisException or RedisTimeoutException;

    private static string Describe(Exception e) => e switch
    {
        SiloStartupException => e.Message,
        _ when IsRedisFailure(e) => $"Redis failed while the silo was starting: {e.Message}",
        IOException => e.Message, // Kestrel's "Failed to bind to address …: address already in use."
        _ => $"failed to start: {e.GetType().Name}: {e.Message} (the log has the details)",
    };

    [LoggerMessage(Level = LogLevel.Critical, Message = "Cannot start: {Reason}")]
    private static partial void LogCannotStart(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Cannot start: {Reason}")]
    private static partial void LogCannotStartUnexpectedly(ILogger logger, Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped by a signal while starting")]
    private static partial void LogStoppedWhileStarting(ILogger logger);
}
