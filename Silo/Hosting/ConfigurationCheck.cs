using Cluster.Silo.Auth;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Binds every options section once while the host is being built, so that a value of the wrong type
/// (<c>Cluster__MaxRequestBytes=lots</c>) becomes one clear startup error rather than an exception deep in a request.
/// <see cref="Cluster"/> is the bound <c>Cluster</c> section, or its defaults when there is a problem, so that
/// the silo can still log why it will not start.
/// </summary>
public sealed record ConfigurationCheck(string? Problem, ClusterOptions Cluster)
{
    public static ConfigurationCheck Run(IConfiguration configuration)
    {
        try
        {
            var cluster = configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>() ?? new ClusterOptions();
            configuration.GetSection(RedisHostOptions.Section).Get<RedisHostOptions>();
            var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
            var rate = configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
            var problem =
                cluster.MaxRequestBytes <= 0 ? "Cluster:MaxRequestBytes must be a positive number of bytes"
                : string.IsNullOrWhiteSpace(cluster.DataDir) ? "Cluster:DataDir must not be empty"
                : auth.SessionLifetime <= TimeSpan.Zero ? "Auth:SessionLifetime must be positive, e.g. 12:00:00"
                : rate.PermitsPerSecond < 0 || rate.Burst < 0 ? "RateLimit:PermitsPerSecond and RateLimit:Burst must not be negative"
                : null;
            return new ConfigurationCheck(problem, problem is null ? cluster : new ClusterOptions());
        }
        catch (InvalidOperationException e)
        {
            return new ConfigurationCheck($"invalid configuration: {e.Message}", new ClusterOptions());
        }
    }

    public void ThrowIfInvalid()
    {
        if (Problem is not null) throw new SiloStartupException(Problem);
    }
}
