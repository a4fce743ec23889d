using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cluster.Silo.Hosting;

/// <summary>Ready means Redis answers PING on the silo's shared connection, the one its grains and Orleans use.</summary>
public sealed class RedisReadyHealthCheck(SiloRedis redis) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await redis.Multiplexer.GetDatabase().PingAsync().WaitAsync(Timeout, cancellationToken).ConfigureAwait(false);
            var data = new Dictionary<string, object> { ["redis"] = redis.Endpoint.ToString(), ["latency_ms"] = Math.Round(latency.TotalMilliseconds, 2) };
            return HealthCheckResult.Healthy("Redis answers", data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"Redis does not answer: {e.Message}");
        }
    }
}
