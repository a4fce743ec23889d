namespace Cluster.Testing;

/// <summary>The checkout the tests run from: the first folder above the test binaries that holds <c>Cluster.sln</c>.</summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string?> Found = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        return null;
    });

    /// <summary>Null when the binaries run outside a checkout.</summary>
    public static string? TryFind() => Found.Value;

    public static string Path => Found.Value ?? throw new DirectoryNotFoundException($"No Cluster.sln above {AppContext.BaseDirectory}; run from within the repository");
}
