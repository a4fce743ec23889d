using System.CommandLine;
using Cluster.Client.Api;

namespace Cluster.Client.Cli;

/// <summary>
/// <c>--silo</c> and <c>--api-key</c>, valid on every command. The key comes from the option, else
/// <c>CLUSTER_API_KEY</c>, else <c>./data/bootstrap-api-key</c> (where a silo run from this directory writes its
/// first key). It is never printed.
/// </summary>
public sealed class GlobalOptions
{
    public const string DefaultSilo = "http://localhost:5000";
    public const string BootstrapKeyPath = "data/bootstrap-api-key";

    private readonly CliEnvironment _environment;

    public GlobalOptions(CliEnvironment environment)
    {
        _environment = environment;
        Silo = new Option<string>("--silo")
        {
            Description = $"The silo's address, or several separated by commas, tried in turn when one cannot be reached (default: CLUSTER_URL, else {DefaultSilo})",
            Recursive = true,
        };
        ApiKey = new Option<string>("--api-key")
        {
            Description = $"The API key (default: CLUSTER_API_KEY, else ./{BootstrapKeyPath})",
            Recursive = true,
        };
    }

    public Option<string> Silo { get; }
    public Option<string> ApiKey { get; }

    /// <summary>The first of <see cref="ResolveSilos"/>: the one a command names in its messages and talks to first.</summary>
    public Uri ResolveSilo(ParseResult parse) => ResolveSilos(parse)[0];

    /// <summary>The silos of <c>--silo</c> (or <c>CLUSTER_URL</c>), in order; any serves any request.</summary>
    public IReadOnlyList<Uri> ResolveSilos(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var text = FirstNonEmpty(parse.GetValue(Silo), _environment.Variable("CLUSTER_URL")) ?? DefaultSilo;
        var silos = new List<Uri>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new CliUsageException($"--silo must be an http(s) address such as {DefaultSilo}, or several separated by commas; \"{part}\" is not.");
            silos.Add(uri);
        }
        return silos.Count > 0 ? silos : throw new CliUsageException($"--silo must name a silo, such as {DefaultSilo}.");
    }

    public string ResolveApiKey(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var key = FirstNonEmpty(parse.GetValue(ApiKey), _environment.Variable("CLUSTER_API_KEY"));
        if (key is not null) return key;
        var bootstrap = Path.Combine(_environment.WorkingDirectory, BootstrapKeyPath);
        if (File.Exists(bootstrap) && FirstNonEmpty(File.ReadAllText(bootstrap)) is { } fromFile) return fromFile;
        throw new CliUsageException($"No API key: pass --api-key, set CLUSTER_API_KEY, or run from the silo's directory (./{BootstrapKeyPath}).");
    }

    public ClusterClient CreateClient(ParseResult parse) => new(ResolveSilos(parse), ResolveApiKey(parse), _environment.Http);

    private static string? FirstNonEmpty(params string?[] values) =>
        values.Select(v => v?.Trim()).FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
