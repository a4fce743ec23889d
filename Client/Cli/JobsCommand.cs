using System.CommandLine;
using System.Globalization;
using Cluster.Client.Api;

namespace Cluster.Client.Cli;

/// <summary><c>cluster jobs [--status S] [--type T] [--limit N] [--cursor C]</c>: a page of jobs as a table, newest first.</summary>
public static class JobsCommand
{
    public static Command Create(GlobalOptions global, CliEnvironment environment)
    {
        var status = new Option<string>("--status") { Description = "pending, assigned, running, completed, delayed, dead, cancelled, waiting" };
        var type = new Option<string>("--type") { Description = "Only jobs of this type" };
        var worker = new Option<string>("--worker") { Description = "Only jobs of this worker" };
        var machine = new Option<string>("--machine") { Description = "Only jobs of this machine" };
        var limit = new Option<int?>("--limit") { Description = "1–500 (default 50)" };
        var cursor = new Option<string>("--cursor") { Description = "The next cursor printed under the previous page" };

        var command = new Command("jobs", "List jobs") { status, type, worker, machine, limit, cursor };
        command.SetAction((parse, cancellationToken) => new CommandRunner(environment).RunAsync(async () =>
        {
            using var client = global.CreateClient(parse);
            var filter = new JobListFilter
            {
                Status = parse.GetValue(status), Type = parse.GetValue(type), Worker = parse.GetValue(worker), Machine = parse.GetValue(machine),
            };
            var page = await client.ListJobsAsync(filter, parse.GetValue(cursor), parse.GetValue(limit), cancellationToken).ConfigureAwait(false);
            var table = new TableWriter("ID", "TYPE", "STATUS", "PRIORITY", "PROGRESS", "WORKER", "CREATED");
            foreach (var job in page.Items)
            {
                table.Add(job.Id, job.Type, job.Status, job.Priority.ToString(CultureInfo.InvariantCulture),
                    job.Progress.ToString("0.#", CultureInfo.InvariantCulture) + "%", job.WorkerId, job.CreatedAt);
            }
            table.WriteTo(environment.Out);
            if (page.NextCursor is not null) environment.Out.WriteLine($"next: --cursor {page.NextCursor}");
            return ExitCodes.Ok;
        }, () => global.ResolveSilo(parse).ToString()));
        return command;
    }
}
