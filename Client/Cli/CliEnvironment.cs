namespace Cluster.Client.Cli;

/// <summary>What the CLI reads from and writes to outside its arguments, so that tests can supply their own.</summary>
public sealed record CliEnvironment
{
    public required Func<string, string?> Variable { get; init; }
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }
    /// <summary>Where <c>data/bootstrap-api-key</c> is looked for.</summary>
    public required string WorkingDirectory { get; init; }
    /// <summary>Makes the HTTP client for the API; a test may hand in its own.</summary>
    public HttpClient? Http { get; init; }

    public static CliEnvironment FromProcess() => new()
    {
        Variable = Environment.GetEnvironmentVariable,
        Out = Console.Out,
        Error = Console.Error,
        WorkingDirectory = Directory.GetCurrentDirectory(),
    };
}
