using System.CommandLine;
using Cluster.Client.Api;

namespace Cluster.Client.Cli;

/// <summary><c>cluster cancel ID</c> and <c>cluster retry ID</c>: one transition of one job, its new status printed.</summary>
public static class JobTransitionCommands
{
    public static Command Cancel(GlobalOptions global, CliEnvironment environment) =>
        Create("cancel", "Cancel a job", global, environment, (client, id, ct) => client.CancelAsync(id, ct));

    public static Command Retry(GlobalOptions global, CliEnvironment environment) =>
        Create("retry", "Put a dead, cancelled or delayed job back in line", global, environment, (client, id, ct) => client.RetryAsync(id, ct));

    private static Command Create(string name, string description, GlobalOptions global, CliEnvironment environment,
        Func<ClusterClient, string, CancellationToken, Task<string>> transition)
    {
        var id = new Argument<string>("id") { Description = "The job id" };
        var command = new Command(name, description) { id };
        command.SetAction((parse, cancellationToken) => new CommandRunner(environment).RunAsync(async () =>
        {
            using var client = global.CreateClient(parse);
            var jobId = parse.GetValue(id)!;
            var status = await transition(client, jobId, cancellationToken).ConfigureAwait(false);
            environment.Out.WriteLine($"{jobId} {status}");
            return ExitCodes.Ok;
        }, () => global.ResolveSilo(parse).ToString()));
        return command;
    }
}
