using System.CommandLine;
using System.Globalization;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Client.Cli;

/// <summary><c>cluster machines [--ids a,b] [--workers]</c>: machines and how their workers are doing.</summary>
public static class MachinesCommand
{
    public static Command Create(GlobalOptions global, CliEnvironment environment)
    {
        var ids = new Option<string>("--ids") { Description = "Only these machines, comma-separated" };
        var showWorkers = new Option<bool>("--workers") { Description = "List each machine's workers too" };
        var limit = new Option<int?>("--limit") { Description = "Machines per page" };
        var cursor = new Option<string>("--cursor") { Description = "The next cursor printed under the previous page" };

        var command = new Command("machines", "List machines and their workers") { ids, showWorkers, limit, cursor };
        command.SetAction((parse, cancellationToken) => new CommandRunner(environment).RunAsync(async () =>
        {
            using var client = global.CreateClient(parse);
            var picked = parse.GetValue(ids)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var page = await client.ListMachinesAsync(parse.GetValue(cursor), parse.GetValue(limit), picked, cancellationToken).ConfigureAwait(false);
            var machines = new TableWriter("MACHINE", "STATUS", "GPUS", "WORKERS", "LAST SEEN");
            foreach (var machine in page.Items)
                machines.Add(machine.Id, machine.Status, machine.GpuCount?.ToString(CultureInfo.InvariantCulture), Summary(machine.Workers), machine.LastSeen);
            machines.WriteTo(environment.Out);

            if (parse.GetValue(showWorkers))
            {
                environment.Out.WriteLine();
                var workers = new TableWriter("WORKER", "MACHINE", "STATUS", "GPU", "JOB", "LAST HEARTBEAT");
                foreach (var worker in page.Items.SelectMany(m => m.Workers).OrderBy(w => w.MachineId, StringComparer.Ordinal).ThenBy(w => w.GpuIndex))
                {
                    workers.Add(worker.Id, worker.MachineId, worker.Status, worker.GpuIndex?.ToString(CultureInfo.InvariantCulture),
                        worker.CurrentJobId, worker.LastHeartbeat);
                }
                workers.WriteTo(environment.Out);
            }
            if (page.NextCursor is not null) environment.Out.WriteLine($"next: --cursor {page.NextCursor}");
            return ExitCodes.Ok;
        }, () => global.ResolveSilo(parse).ToString()));
        return command;
    }

    /// <summary>"2 idle, 1 busy": counts by status, in a fixed order.</summary>
    internal static string Summary(IReadOnlyCollection<WorkerState> workers)
    {
        if (workers.Count == 0) return "none";
        string[] order = [WorkerStatus.Idle, WorkerStatus.Busy, WorkerStatus.Offline];
        return string.Join(", ", workers.GroupBy(w => w.Status)
            .OrderBy(g => Array.IndexOf(order, g.Key) is var i and >= 0 ? i : order.Length)
            .Select(g => $"{g.Count()} {g.Key}"));
    }
}
