using System.Globalization;
using Cluster.Silo.Api;
using StackExchange.Redis;

namespace Cluster.Silo.Auth;

/// <summary>
/// A key made with a <c>rate_limit</c> gets that many requests per second across all silos together, not per silo:
/// each of its requests asks Redis, in one script, whether it conforms (GCRA, the generic cell rate algorithm: a
/// theoretical arrival time per key, <c>rate:{key id}</c>, that each accepted request moves one interval on). A
/// request that does not conform is answered <c>429 RATE_LIMITED</c> with <c>Retry-After</c>. Keys without one keep
/// only each silo's own token bucket (<c>RateLimit:*</c>), which costs no round trip.
/// </summary>
public static class KeyRateLimits
{
    public const int Min = 1;
    public const int Max = 100_000;

    // KEYS: rate:{key id}. ARGV: µs between requests, µs of burst tolerance. 0 if the request conforms (and is counted),
    // else the µs until one would.
    private const string ConformScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
        local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
        if tat - now > tolerance then return tat - now - tolerance end
        redis.call('SET', KEYS[1], tat + interval, 'PX', math.floor((tat + interval - now) / 1000) + 1000)
        return 0
        """;

    /// <summary>Checks requests made with a key that has a rate limit; runs after authentication, before the silo's own limiter.</summary>
    public static IApplicationBuilder UseKeyRateLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.FindFirst(ClusterClaims.RateLimit)?.Value is { } text
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var rate) && rate > 0
            && context.User.KeyIdOf() is { } keyId)
        {
            var interval = 1_000_000L / rate;
            // A burst of a twentieth of a second's requests: short enough that a second's total stays within 5 %.
            var tolerance = interval * Math.Max(0, rate / 20 - 1);
            var redis = context.RequestServices.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
            var wait = (long)await redis.ScriptEvaluateAsync(ConformScript, ["rate:" + keyId], [interval, tolerance]).ConfigureAwait(false);
            if (wait > 0)
            {
                ApiError.RetryAfter(context.Response, TimeSpan.FromMicroseconds(wait));
                await ApiError.WriteAsync(context, StatusCodes.Status429TooManyRequests, ApiError.RateLimited,
                    $"This key's limit of {rate} requests per second, across all silos, is reached; slow down and retry").ConfigureAwait(false);
                return;
            }
        }
        await next(context).ConfigureAwait(false);
    });
}
