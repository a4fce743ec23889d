namespace Cluster.Silo.Hosting;

/// <summary>The <c>Cluster</c> configuration section: where the silo keeps its files and how much it accepts.</summary>
public sealed class ClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>
    /// Folder for logs (<c>logs/</c>), the embedded redis-server's files (<c>redis/</c>) and the generated
    /// bootstrap API key. Relative paths are resolved against the working directory. Env: <c>Cluster__DataDir</c>.
    /// </summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>The largest request body accepted, in bytes; larger ones get 413. Env: <c>Cluster__MaxRequestBytes</c>.</summary>
    public long MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a SIGTERM or SIGINT lets requests in flight finish before the silo stops anyway.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What runs jobs, workers and workflows: <c>orleans</c> (grains, with Redis as storage; the default) or <c>lua</c>
    /// (the functions in Redis, kept until they are deleted). Every silo of a cluster must use the same. Env: <c>Cluster__Engine</c>.
    /// </summary>
    public string Engine { get; set; } = Grains.Engines.Default;

    public string FullDataDir => Path.GetFullPath(DataDir);
    public string LogDir => Path.Combine(FullDataDir, "logs");
    public string EmbeddedRedisDir => Path.Combine(FullDataDir, "redis");
}
