using Cluster.Client.Cli;

namespace Cluster.UnitTests.Client;

/// <summary>A CLI environment with its own variables, captured output and an empty working directory.</summary>
internal sealed class CliTestEnvironment : IDisposable
{
    private readonly Dictionary<string, string> _variables = new(StringComparer.Ordinal);

    public CliTestEnvironment(params (string Name, string Value)[] variables)
    {
        foreach (var (name, value) in variables) _variables[name] = value;
        Directory.CreateDirectory(WorkingDirectory);
        Environment = new CliEnvironment
        {
            Variable = name => _variables.GetValueOrDefault(name),
            Out = Out,
            Error = Error,
            WorkingDirectory = WorkingDirectory,
        };
    }

    public string WorkingDirectory { get; } = Path.Combine(Path.GetTempPath(), "cluster-cli-" + Guid.NewGuid().ToString("N"));
    public StringWriter Out { get; } = new();
    public StringWriter Error { get; } = new();
    public CliEnvironment Environment { get; }

    public Task<int> RunAsync(params string[] args) => CliApp.RunAsync(args, Environment, TestJobs.Deadline());

    public void Dispose()
    {
        Directory.Delete(WorkingDirectory, recursive: true);
        Out.Dispose();
        Error.Dispose();
    }
}
