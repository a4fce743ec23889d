using Cluster.Grains;
using Cluster.Silo.Auth;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Binds every options section once while the host is being built, so that a value of the wrong type
/// (<c>Cluster__MaxRequestBytes=lots</c>) becomes one clear startup error rather than an exception deep in a request.
/// <see cref="Cluster"/> and <see cref="OrleansHost"/> are the bound <c>Cluster</c> and <c>Orleans</c> sections, or
/// their defaults when there is a problem, so that the silo can still log why it will not start.
/// </summary>
public sealed record ConfigurationCheck(string? Problem, ClusterOptions Cluster, OrleansHostOptions OrleansHost)
{
    public static ConfigurationCheck Run(IConfiguration configuration)
    {
        try
        {
            var cluster = configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>() ?? new ClusterOptions();
            configuration.GetSection(RedisHostOptions.Section).Get<RedisHostOptions>();
            var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
            var rate = configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
            var limits = configuration.GetSection(TenantLimitOptions.Section).Get<TenantLimitOptions>() ?? new TenantLimitOptions();
            var orleans = configuration.GetSection(OrleansHostOptions.Section).Get<OrleansHostOptions>() ?? new OrleansHostOptions();
            var problem =
                cluster.MaxRequestBytes <= 0 ? "Cluster:MaxRequestBytes must be a positive number of bytes"
                : string.IsNullOrWhiteSpace(cluster.DataDir) ? "Cluster:DataDir must not be empty"
                : configuration["Cluster:Engine"] is { } engine && engine != "orleans"
                    ? $"Cluster:Engine '{engine}' no longer exists: jobs, workers and workflows run as Orleans grains only; remove the setting"
                : auth.SessionLifetime <= TimeSpan.Zero ? "Auth:SessionLifetime must be positive, e.g. 12:00:00"
                : auth.Problem() is { } authProblem ? authProblem
                : rate.PermitsPerSecond < 0 || rate.Burst < 0 ? "RateLimit:PermitsPerSecond and RateLimit:Burst must not be negative"
                : limits.Problem() is { } limitsProblem ? limitsProblem
                : OrleansProblem(orleans);
            return problem is null
                ? new ConfigurationCheck(null, cluster, orleans)
                : new ConfigurationCheck(problem, new ClusterOptions(), new OrleansHostOptions());
        }
        catch (InvalidOperationException e)
        {
            return new ConfigurationCheck($"invalid configuration: {e.Message}", new ClusterOptions(), new OrleansHostOptions());
        }
    }

    private static string? OrleansProblem(OrleansHostOptions orleans) =>
        string.IsNullOrWhiteSpace(orleans.ClusterId) || string.IsNullOrWhiteSpace(orleans.ServiceId) ? "Orleans:ClusterId and Orleans:ServiceId must not be empty"
        : orleans.SiloPort is < 0 or > 65535 || orleans.GatewayPort is < 0 or > 65535 ? "Orleans:SiloPort and Orleans:GatewayPort must be 0 (a free port) or a port from 1 to 65535"
        : !string.IsNullOrWhiteSpace(orleans.AdvertisedIPAddress) && !System.Net.IPAddress.TryParse(orleans.AdvertisedIPAddress, out _)
            ? $"Orleans:AdvertisedIPAddress '{orleans.AdvertisedIPAddress}' is not an IP address"
        : null;

    public void ThrowIfInvalid()
    {
        if (Problem is not null) throw new SiloStartupException(Problem);
    }
}
