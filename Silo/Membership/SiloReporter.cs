using Cluster.Grains.Interfaces.Silos;
using Cluster.Silo.Gateway;
using Cluster.Silo.Workers;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using IConnectionMultiplexer = StackExchange.Redis.IConnectionMultiplexer;
using RedisException = StackExchange.Redis.RedisException;
using RedisTimeoutException = StackExchange.Redis.RedisTimeoutException;

namespace Cluster.Silo.Membership;

/// <summary>
/// Tells the cluster's <see cref="ISiloDirectoryGrain"/> what this silo serves, every few seconds, and announces
/// its arrival and orderly departure on the <c>silos</c> topic. Whether it is alive is Orleans membership's call.
/// </summary>
public sealed partial class SiloReporter(
    IGrainFactory grains, ILocalSiloDetails silo, IServer server, JobDispatcher dispatcher, EventHub hub,
    IConnectionMultiplexer redis, IHostApplicationLifetime lifetime, ILogger<SiloReporter> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The HTTP addresses are known, and the Orleans silo is up, once the host has started.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var directory = grains.GetGrain<ISiloDirectoryGrain>(ISiloDirectoryGrain.Key);
        var announced = false;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    await directory.ReportAsync(Report());
                    if (!announced) announced = await AnnounceAsync("silo_joined", stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogReportFailed(e.Message);
                }
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await AnnounceAsync("silo_left", CancellationToken.None);
    }

    private SiloReport Report() => new()
    {
        SiloAddress = silo.SiloAddress.ToParsableString(),
        ProcessId = Environment.ProcessId,
        Addresses = string.Join(' ', server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []),
        Workers = dispatcher.ConnectedWorkers,
        Subscribers = hub.SubscriberCount,
        MemoryMb = Environment.WorkingSet / (1024 * 1024),
        ReportedAt = DateTime.UtcNow,
    };

    private async Task<bool> AnnounceAsync(string type, CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetDatabase().StreamAddAsync("events:silos", [new("type", type), new("silo_id", silo.Name)], maxLength: 10_000, useApproximateMaxLength: true)
                .WaitAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            LogReportFailed(e.Message);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report this silo to the cluster: {Reason}")]
    private partial void LogReportFailed(string reason);
}
