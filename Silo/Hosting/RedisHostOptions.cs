namespace Cluster.Silo.Hosting;

/// <summary>The <c>Redis</c> configuration section: which Redis the silo's grains live in.</summary>
public sealed class RedisHostOptions
{
    public const string Section = "Redis";

    /// <summary>
    /// <c>host:port[,password=…][,user=…][,database=N]</c> of a shared Redis ≥ 7 (several silos, production).
    /// Empty (the default) starts an embedded redis-server from PATH under <c>&lt;DataDir&gt;/redis</c> with
    /// append-only persistence, and stops it on shutdown. Env: <c>Redis__ConnectionString</c>.
    /// </summary>
    public string? ConnectionString { get; set; }

    public bool UsesEmbeddedServer => string.IsNullOrWhiteSpace(ConnectionString);
}
