using Cluster.Grains.Interfaces.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cluster.Grains.Jobs;

public static class SweeperSiloBuilderExtensions
{
    /// <summary>
    /// Starts the cluster's <see cref="SweeperGrain"/> as each silo becomes active, and calls it every few seconds from
    /// then on (it is one grain, so the calls only find it running) so that it comes back at once wherever the cluster
    /// places it after its silo died; its reminder keeps it alive as well. Needs a reminder service.
    /// </summary>
    public static ISiloBuilder AddClusterSweeper(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SweeperStartup>();
        return silo;
    }
}

/// <summary>
/// Keeps the sweeper running from every silo: a call every few seconds activates it wherever the cluster places it.
/// Its reminder alone would bring it back up to a minute after its silo died, with the leases of that silo's jobs
/// (whose timers died with them) waiting on it; a no-op call per silo per <see cref="Interval"/> bounds that wait.
/// </summary>
internal sealed partial class SweeperStartup(IGrainFactory grains, ILogger<SweeperStartup> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SweeperStartup), ServiceLifecycleStage.Active, Start, StopAsync);

    private Task Start(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => KeepRunningAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task KeepRunningAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Interval);
        var warned = false;
        try
        {
            do
            {
                try
                {
                    await grains.GetGrain<ISweeperGrain>(ISweeperGrain.Key).StartAsync().WaitAsync(stopping).ConfigureAwait(false);
                    warned = false;
                }
                catch (Exception e) when (e is OrleansException or TimeoutException)
                {
                    // The silo serves without it meanwhile; the next call, or another silo's, starts it.
                    if (!warned) LogNotStarted(e);
                    warned = true;
                }
            } while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sweeper could not be started from this silo; trying again")]
    private partial void LogNotStarted(Exception exception);
}
