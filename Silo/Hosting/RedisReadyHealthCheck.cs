using Cluster.Grains.Functions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cluster.Silo.Hosting;

/// <summary>Ready means Redis answers PING and holds the function library version this silo was built with.</summary>
public sealed class RedisReadyHealthCheck(SiloRedis redis) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            var client = redis.Client;
            await client.ExecuteAsync("PING", [], deadline.Token, Timeout).ConfigureAwait(false);
            var loaded = await FunctionLibrary.LoadedVersionAsync(client, deadline.Token).ConfigureAwait(false);
            var data = new Dictionary<string, object> { ["redis"] = client.Options.ToString(), ["library_version"] = loaded ?? "" };
            return loaded == FunctionLibrary.Version
                ? HealthCheckResult.Healthy($"Redis answers; function library version {loaded}", data)
                : HealthCheckResult.Unhealthy($"Redis holds function library version '{loaded ?? "none"}', this silo needs '{FunctionLibrary.Version}'", data: data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"Redis does not answer: {e.Message}");
        }
    }
}
