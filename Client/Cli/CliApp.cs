using System.CommandLine;

namespace Cluster.Client.Cli;

/// <summary>The <c>cluster</c> command line: jobs, machines and the machine agent.</summary>
public static class CliApp
{
    public static RootCommand Build(CliEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var global = new GlobalOptions(environment);
        var root = new RootCommand("cluster: submit and follow jobs, look at machines, run a GPU machine's workers")
        {
            global.Silo,
            global.ApiKey,
            SubmitCommand.Create(global, environment),
            StatusCommand.Create(global, environment),
            JobsCommand.Create(global, environment),
            JobTransitionCommands.Cancel(global, environment),
            JobTransitionCommands.Retry(global, environment),
            MachinesCommand.Create(global, environment),
            AgentCommand.Create(global, environment),
        };
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken cancellationToken = default)
    {
        var configuration = new InvocationConfiguration
        {
            Output = environment.Out,
            Error = environment.Error,
            // Signals are handled by ShutdownSignal and arrive as cancellationToken.
            ProcessTerminationTimeout = null,
        };
        return await Build(environment).Parse(args).InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }
}
