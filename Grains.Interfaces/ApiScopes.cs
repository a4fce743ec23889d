namespace Cluster.Grains.Interfaces;

/// <summary>What an API key may do. <see cref="Admin"/> implies every other scope.</summary>
public static class ApiScopes
{
    /// <summary>Submit, query and cancel jobs and workflows.</summary>
    public const string Submit = "submit";
    /// <summary>Connect as a worker or machine agent: claim jobs, report progress, complete and fail them.</summary>
    public const string Worker = "worker";
    /// <summary>Read the state of the cluster and subscribe to its streams (the dashboard).</summary>
    public const string Monitor = "monitor";
    /// <summary>Everything, including managing API keys.</summary>
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } = [Submit, Worker, Monitor, Admin];

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);

    /// <summary>True if a key holding <paramref name="granted"/> may act with <paramref name="required"/>.</summary>
    public static bool Allows(IEnumerable<string> granted, string required) =>
        granted.Any(scope => scope == required || scope == Admin);
}
