using System.Globalization;
using Cluster.Grains;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Auth;

/// <summary>
/// Each tenant's jobs per day, counted in Redis (<c>usage:{tenant}:jobs:{yyyyMMdd}</c>, kept two days) so that the
/// limit holds across every silo: a submission takes its jobs from the day's count in one script, or none of them.
/// Work of no tenant (an admin's key) is neither counted nor limited.
/// </summary>
public sealed class TenantQuota(IConnectionMultiplexer redis, IOptions<TenantLimitOptions> options)
{
    // KEYS: the day's count. ARGV: jobs to take, the limit (0: none), expiry ms. The count after, or -1 (over the limit, nothing taken).
    private const string TakeScript = """
        local limit = tonumber(ARGV[2])
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if limit > 0 and current + tonumber(ARGV[1]) > limit then return -1 end
        local after = redis.call('INCRBY', KEYS[1], ARGV[1])
        if after == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
        return after
        """;

    public int JobsPerDay => options.Value.JobsPerDay;

    /// <summary>Counts <paramref name="jobs"/> jobs for <paramref name="tenant"/> today; false (nothing counted) if they would pass the limit.</summary>
    public async Task<bool> TryTakeJobsAsync(string? tenant, int jobs, CancellationToken cancellationToken)
    {
        if (tenant is null) return true;
        var after = (long)await redis.GetDatabase().ScriptEvaluateAsync(TakeScript, [DayKey(tenant, DateTime.UtcNow)],
            [jobs, JobsPerDay, (long)TimeSpan.FromDays(2).TotalMilliseconds]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return after >= 0;
    }

    /// <summary>The jobs <paramref name="tenant"/> submitted today (UTC).</summary>
    public async Task<long> JobsTodayAsync(string tenant, CancellationToken cancellationToken) =>
        (await JobsTodayAsync([tenant], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>The jobs each of <paramref name="tenants"/> submitted today (UTC), in one read.</summary>
    public async Task<long[]> JobsTodayAsync(IReadOnlyList<string> tenants, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        var counts = await redis.GetDatabase().StringGetAsync([.. tenants.Select(t => (RedisKey)DayKey(t, now))]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. counts.Select(c => (long?)c ?? 0)];
    }

    /// <summary>The refusal of a submission over the limit: 429 naming it, with <c>Retry-After</c> at the next UTC day.</summary>
    public IResult Refusal(HttpContext context)
    {
        var now = DateTime.UtcNow;
        Api.ApiError.RetryAfter(context.Response, now.Date.AddDays(1) - now);
        return Api.ApiError.Result(StatusCodes.Status429TooManyRequests, Api.ApiError.RateLimited,
            $"The limit of {JobsPerDay} jobs per day (Limits:JobsPerDay) is reached for this tenant; it starts again at 00:00 UTC");
    }

    private static string DayKey(string tenant, DateTime utcNow) =>
        string.Create(CultureInfo.InvariantCulture, $"usage:{tenant}:jobs:{utcNow:yyyyMMdd}");
}
