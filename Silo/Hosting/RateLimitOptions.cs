namespace Cluster.Silo.Hosting;

/// <summary>The <c>RateLimit</c> configuration section: a token bucket per API key (per client address without one).</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    /// <summary>Sustained requests per second per key; 0 turns rate limiting off. Env: <c>RateLimit__PermitsPerSecond</c>.</summary>
    public int PermitsPerSecond { get; set; } = 1000;

    /// <summary>Requests a key may make at once above the sustained rate. Env: <c>RateLimit__Burst</c>.</summary>
    public int Burst { get; set; } = 2000;
}
