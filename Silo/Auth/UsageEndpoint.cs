using System.Security.Claims;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Users;
using Cluster.Silo.Api;

namespace Cluster.Silo.Auth;

/// <summary>
/// <c>GET /api/usage</c>: a tenant's use of its limits today. A tenant sees its own; monitors and admins name one with
/// <c>?tenant=</c>.
/// </summary>
public static class UsageEndpoint
{
    public static IEndpointRouteBuilder MapUsage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/usage", UsageAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        return endpoints;
    }

    private static async Task<IResult> UsageAsync(HttpRequest request, ClaimsPrincipal user, TenantQuota quota, CancellationToken ct)
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
        return Results.Json(new
        {
            success = true,
            tenant,
            usage = new { jobs_today = await quota.JobsTodayAsync(tenant, ct) },
            limits = new { jobs_per_day = quota.JobsPerDay > 0 ? quota.JobsPerDay : (int?)null },
        });
    }
}
