using System.Security.Claims;
using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Silo.Api;
using Cluster.Silo.Auth;

namespace Cluster.Silo.Webhooks;

/// <summary>The delivery logs of jobs and workflows, and the signing secret for admins. See docs/api.md, "Webhooks".</summary>
public static class WebhookApi
{
    public static IEndpointRouteBuilder MapWebhookApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/jobs/{id}/webhooks", (string id, ClaimsPrincipal user, GrainFactory grains, WebhookStore store, CancellationToken ct) =>
            LogAsync("job", id, user, grains, store, ct)).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        app.MapGet("/api/workflows/{id}/webhooks", (string id, ClaimsPrincipal user, GrainFactory grains, WebhookStore store, CancellationToken ct) =>
            LogAsync("workflow", id, user, grains, store, ct)).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        app.MapGet("/api/webhooks/secret", async (WebhookSecret secret, CancellationToken ct) => Results.Json(new
        {
            success = true,
            secret = await secret.GetAsync(ct),
            source = secret.IsConfigured ? "configuration" : "generated",
        })).RequireScope(ApiScopes.Admin);
        return app;
    }

    /// <summary>
    /// The log of a job or workflow the caller may see (<see cref="Tenancy"/>): another tenant's is "not found" whether or
    /// not it has a log. A log outlives its job or workflow for those who see every tenant's.
    /// </summary>
    private static async Task<IResult> LogAsync(string kind, string id, ClaimsPrincipal user, GrainFactory grains, WebhookStore store, CancellationToken ct)
    {
        var deliveries = await store.ReadLogAsync(kind, id, ct);
        var found = Tenancy.SeesEveryTenant(user)
            ? deliveries.Count > 0 || await ExistsAsync(kind, id, grains, ct)
            : kind == "job" ? await JobApi.VisibleAsync(id, user, grains, ct) : await WorkflowApi.VisibleAsync(id, user, grains, ct);
        if (!found)
            return kind == "job"
                ? ApiError.Result(StatusCodes.Status404NotFound, ErrorCodes.JobNotFound, $"Job not found: {id}")
                : ApiError.Result(StatusCodes.Status404NotFound, ErrorCodes.WorkflowNotFound, $"Workflow not found: {id}");
        return Results.Json(new { success = true, deliveries });
    }

    private static async Task<bool> ExistsAsync(string kind, string id, GrainFactory grains, CancellationToken ct) =>
        kind == "job" ? await grains.Job(id).GetAsync(ct) is not null : await grains.Workflow(id).GetAsync(ct) is not null;
}
