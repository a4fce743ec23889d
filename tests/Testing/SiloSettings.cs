namespace Cluster.Testing;

/// <summary>How to start a silo process for a test.</summary>
public sealed record SiloSettings
{
    /// <summary>The data directory; a new temporary one (deleted afterwards) when null.</summary>
    public string? DataDirectory { get; init; }
    /// <summary><c>Redis__ConnectionString</c>; null starts the embedded redis-server.</summary>
    public string? RedisConnectionString { get; init; }
    /// <summary><c>Auth__BootstrapApiKey</c>; null lets the silo generate one.</summary>
    public string? BootstrapApiKey { get; init; }
    /// <summary>Further environment variables (configuration keys as <c>Section__Key</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>The loopback port to listen on; null takes a free one. Fix it to restart a silo where clients expect it.</summary>
    public int? Port { get; init; }
    /// <summary>Replaces PATH for the silo, e.g. to hide redis-server.</summary>
    public string? Path { get; init; }
}
