using System.Threading.RateLimiting;
using Cluster.Silo.Api;
using Cluster.Silo.Auth;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Hosting;

/// <summary>
/// A token bucket per API key (per client address for requests without one), using ASP.NET Core's limiter.
/// Health probes and metrics scrapes are never limited: a probe or scrape refused under load would hide the
/// very load it should show, and keyless ones from this machine would share one bucket with every other local caller.
/// Runs after authentication so that it knows the key.
/// </summary>
public static class RateLimiting
{
    public static IServiceCollection AddClusterRateLimiting(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.OnRejected = (context, _) => new ValueTask(ApiError.WriteAsync(
                context.HttpContext, StatusCodes.Status429TooManyRequests, ApiError.RateLimited,
                "Too many requests for this API key; slow down and retry (RateLimit:PermitsPerSecond)"));
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                if (options.PermitsPerSecond == 0 || context.Request.Path.StartsWithSegments("/health")
                    || context.Request.Path.StartsWithSegments(Telemetry.MetricsPath))
                    return RateLimitPartition.GetNoLimiter("unlimited");
                var partition = context.User.KeyIdOf() is { } keyId ? "key:" + keyId : "ip:" + context.Connection.RemoteIpAddress;
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(options.Burst, options.PermitsPerSecond),
                    TokensPerPeriod = options.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
        });
        return services;
    }
}
