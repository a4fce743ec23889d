using System.Security.Claims;
using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Users;
using Cluster.Silo.Api;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Auth;

/// <summary>
/// <c>GET /api/usage</c>: a tenant's use of its limits, today and now. A tenant sees its own; monitors and admins name
/// one with <c>?tenant=</c>, and see every account's at <c>GET /api/usage/tenants</c>.
/// </summary>
public static class UsageEndpoint
{
    public static IEndpointRouteBuilder MapUsage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/usage", UsageAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        endpoints.MapGet("/api/usage/tenants", TenantsAsync).RequireScope(ApiScopes.Monitor);
        return endpoints;
    }

    private static async Task<IResult> UsageAsync(HttpRequest request, ClaimsPrincipal user, TenantQuota quota, GrainFactory grains,
        IOptions<TenantLimitOptions> limits, CancellationToken ct)
    {
        var named = request.Query["tenant"].ToString();
        string? tenant = user.UserIdOf();
        if (named.Length > 0)
        {
            if (named != tenant && !Tenancy.SeesEveryTenant(user))
                return ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden, "Only monitor and admin keys see another tenant's usage");
            if (!UserIds.IsId(named)) return ApiError.Validation("'tenant' must be a user id (u- and 24 hex digits)");
            tenant = named;
        }
        if (tenant is null)
            return ApiError.Validation("This key belongs to no tenant, whose work is not limited: name one with ?tenant=");
        var jobs = (await grains.TenantJobsAsync(ct)).FirstOrDefault(t => t.Tenant == tenant);
        return Results.Json(new
        {
            success = true,
            tenant,
            weight = limits.Value.WeightOf(tenant),
            usage = Usage(await quota.JobsTodayAsync(tenant, ct), jobs),
            limits = Limits(limits.Value),
        });
    }

    /// <summary>Every account's usage, and any other tenant with jobs in the queue, for monitors and admins.</summary>
    private static async Task<IResult> TenantsAsync(GrainFactory grains, TenantQuota quota, IOptions<TenantLimitOptions> limits, CancellationToken ct)
    {
        var users = await grains.ListUsersAsync(ct);
        var queued = (await grains.TenantJobsAsync(ct)).ToDictionary(t => t.Tenant, StringComparer.Ordinal);
        var emails = users.ToDictionary(u => u.Id, u => u.Email, StringComparer.Ordinal);
        var tenants = users.Select(u => u.Id).Concat(queued.Keys.Where(t => !emails.ContainsKey(t))).ToList();
        var today = await quota.JobsTodayAsync(tenants, ct);
        return Results.Json(new
        {
            success = true,
            limits = Limits(limits.Value),
            tenants = tenants.Select((tenant, i) => new
            {
                tenant,
                email = emails.GetValueOrDefault(tenant),
                weight = limits.Value.WeightOf(tenant),
                usage = Usage(today[i], queued.GetValueOrDefault(tenant)),
            }),
        });
    }

    private static object Usage(long jobsToday, Grains.Interfaces.Jobs.TenantJobs? jobs) =>
        new { jobs_today = jobsToday, pending_jobs = jobs?.Pending ?? 0, running_jobs = jobs?.Held ?? 0 };

    private static object Limits(TenantLimitOptions limits) => new
    {
        jobs_per_day = limits.JobsPerDay > 0 ? limits.JobsPerDay : (int?)null,
        running_jobs = limits.RunningJobs > 0 ? limits.RunningJobs : (int?)null,
    };
}
