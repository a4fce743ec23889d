using System.CommandLine;

namespace Cluster.Client.Cli;

/// <summary><c>cluster status ID</c>: the job as JSON.</summary>
public static class StatusCommand
{
    public static Command Create(GlobalOptions global, CliEnvironment environment)
    {
        var id = new Argument<string>("id") { Description = "The job id" };
        var command = new Command("status", "Show a job as JSON") { id };
        command.SetAction((parse, cancellationToken) => new CommandRunner(environment).RunAsync(async () =>
        {
            using var client = global.CreateClient(parse);
            var jobId = parse.GetValue(id)!;
            var job = await client.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (job is null)
            {
                environment.Error.WriteLine($"error: not found: Job not found: {jobId}");
                return ExitCodes.Failed;
            }
            environment.Out.WriteLine(JsonOutput.Pretty(job));
            return ExitCodes.Ok;
        }, () => global.ResolveSilo(parse).ToString()));
        return command;
    }
}
