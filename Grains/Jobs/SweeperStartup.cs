using Cluster.Grains.Interfaces.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cluster.Grains.Jobs;

public static class SweeperSiloBuilderExtensions
{
    /// <summary>
    /// Starts the cluster's <see cref="SweeperGrain"/> as each silo becomes active (it is one grain, so the second
    /// silo only finds it running); its reminder keeps it alive from then on. Needs a reminder service.
    /// </summary>
    public static ISiloBuilder AddClusterSweeper(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SweeperStartup>();
        return silo;
    }
}

internal sealed partial class SweeperStartup(IGrainFactory grains, ILogger<SweeperStartup> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SweeperStartup), ServiceLifecycleStage.Active, StartAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await grains.GetGrain<ISweeperGrain>(ISweeperGrain.Key).StartAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            // The silo serves without it; another silo's start or the reminder, once registered, starts it.
            LogNotStarted(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sweeper did not start with this silo")]
    private partial void LogNotStarted(Exception exception);
}
