using System.Reflection;

namespace Cluster.Testing;

/// <summary>Finds a program of this repository as built next to the test run, to start it as a process of its own.</summary>
public static class BuiltAssembly
{
    /// <summary>The environment variable's path if set, else <c>&lt;repo&gt;/&lt;project&gt;/bin/&lt;configuration&gt;/net10.0/&lt;dll&gt;</c>.</summary>
    public static string Find(string projectFolder, string dll, string overrideVariable)
    {
        if (Environment.GetEnvironmentVariable(overrideVariable) is { Length: > 0 } explicitPath) return explicitPath;
        var configuration = typeof(BuiltAssembly).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        if (RepositoryRoot.TryFind() is { } root)
        {
            var candidate = Path.Combine(root, projectFolder, "bin", configuration, "net10.0", dll);
            if (File.Exists(candidate)) return candidate;
            throw new FileNotFoundException($"{dll} is not at {candidate}; build the solution (dotnet build Cluster.sln -c {configuration}) first");
        }
        throw new FileNotFoundException($"No Cluster.sln above {AppContext.BaseDirectory}; set {overrideVariable} to the path of {dll}");
    }
}
