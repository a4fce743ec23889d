using Cluster.Client.Connectors;

namespace Cluster.Client.Agent;

/// <summary>
/// The agent of one GPU machine: N workers for N GPUs, ids <c>{machine}-gpu{i}</c>, each with its own
/// connection and connector. Runs until <c>stopping</c> fires, or until the silo refuses a worker for good.
/// </summary>
public sealed class MachineAgent(AgentSettings settings, AgentLog log, Func<ConnectorSettings, ConnectorContext, IJobConnector>? connectorFactory = null)
{
    /// <summary>Returns the process exit code: 0 after a clean stop, 1 when the silo refused the workers.</summary>
    public async Task<int> RunAsync(CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var create = connectorFactory ?? ConnectorFactory.Create;
        log.Info(settings.MachineId, $"starting {settings.GpuCount} worker(s) against {settings.Silo} with the {settings.Connector.Kind} connector");

        using var stopAll = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var connectors = new List<IJobConnector>();
        var runs = new List<Task<int>>();
        for (var gpu = 0; gpu < settings.GpuCount; gpu++)
        {
            var connector = create(settings.Connector, new ConnectorContext(AgentSettings.WorkerIdFor(settings.MachineId, gpu), gpu));
            connectors.Add(connector);
            var runner = new WorkerRunner(settings, gpu, connector, log);
            runs.Add(RunWorkerAsync(runner, stopAll));
        }

        var exitCodes = await Task.WhenAll(runs).ConfigureAwait(false);
        foreach (var connector in connectors) (connector as IDisposable)?.Dispose();
        log.Info(settings.MachineId, "all workers stopped");
        return exitCodes.Max();
    }

    private async Task<int> RunWorkerAsync(WorkerRunner runner, CancellationTokenSource stopAll)
    {
        try
        {
            await runner.RunAsync(stopAll.Token).ConfigureAwait(false);
            return 0;
        }
        catch (WorkerFatalException e)
        {
            // Every worker shares the key and machine id, so what refuses one refuses all: stop them together.
            log.Error(runner.WorkerId, e.Message);
            await stopAll.CancelAsync().ConfigureAwait(false);
            return 1;
        }
    }
}
