using System.Security.Claims;
using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Silo.Auth;
using Cluster.Silo.Webhooks;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Api;

/// <summary>Seed 001's workflow routes: DAGs of jobs. See docs/api.md, "Workflows".</summary>
public static class WorkflowApi
{
    public static RouteGroupBuilder MapWorkflowApi(this IEndpointRouteBuilder app)
    {
        var workflows = app.MapGroup("/api/workflows");
        workflows.MapPost("/create", CreateAsync).RequireScope(ApiScopes.Submit);
        workflows.MapGet("/", ListAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        workflows.MapGet("/{id}/status", StatusAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        workflows.MapPost("/{id}/cancel", CancelAsync).RequireScope(ApiScopes.Submit);
        workflows.MapPost("/{id}/steps/{index}/retry", RetryStepAsync).RequireScope(ApiScopes.Submit);
        app.MapPost("/api/internal/workflows/{id}/job-completed", JobCompletedAsync).RequireScope(ApiScopes.Worker);
        return workflows;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, ClaimsPrincipal user, GrainFactory grains, JobTypeCatalog catalog, WorkflowOptions options,
        TenantQuota quota, IOptions<WebhookOptions> webhooks, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (body is null) return error!;
        var read = WorkflowDefinitionReader.Read(body, catalog, options.MaxSteps, out var problem);
        if (read is null) return ApiError.Validation(problem!);
        var definition = Tenancy.Stamp(read, user);
        // As for jobs: refuse a webhook_url the sender would refuse (SSRF), see Silo/Webhooks/WebhookUrlPolicy.cs.
        if (await WebhookUrlPolicy.CheckAsync(definition.WebhookUrl, webhooks.Value.AllowPrivateNetworks, ct) is { } refused)
            return ApiError.Validation("Validation failed: " + refused);
        if (!await quota.TryTakeJobsAsync(definition.Tenant, definition.Steps.Count, ct)) return quota.Refusal(request.HttpContext);
        return await JobApi.Guarded(async () =>
        {
            var created = await grains.Workflows.CreateAsync(definition, ct);
            return Results.Json(new { success = true, workflow_id = created.WorkflowId, job_ids = created.JobIds });
        });
    }

    private static async Task<IResult> StatusAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct)
    {
        var view = await grains.Workflow(id).GetAsync(ct);
        return view is null || !Tenancy.MaySee(user, view.Workflow.Tenant)
            ? NotFound(id)
            : Results.Json(new { success = true, workflow = view.Workflow, steps = view.Steps }, ClusterJson.Options);
    }

    /// <summary>A page of workflows; a caller that may not see every tenant's gets only its own of the page (a page may then be short, its cursor still good).</summary>
    private static async Task<IResult> ListAsync(HttpRequest request, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct)
    {
        if (!ListLimit.TryRead(request, out var limit, out var badLimit)) return badLimit;
        var page = await grains.Workflows.ListAsync(JobApi.NullIfEmpty(request.Query["cursor"]), limit, ct);
        return Results.Json(new { success = true, workflows = page.Items.Where(w => Tenancy.MaySee(user, w.Tenant)), next_cursor = page.NextCursor }, ClusterJson.Options);
    }

    /// <summary>Whether the workflow exists and is the caller's to see (<see cref="Tenancy"/>).</summary>
    public static async Task<bool> VisibleAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) =>
        await grains.Workflow(id).GetAsync(ct) is { } view && Tenancy.MaySee(user, view.Workflow.Tenant);

    private static Task<IResult> CancelAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) => JobApi.Guarded(async () =>
    {
        if (!await VisibleAsync(id, user, grains, ct)) return NotFound(id);
        await grains.Workflow(id).CancelAsync("workflow cancelled through the API", ct);
        return Results.Json(new { success = true, workflow_id = id, status = WorkflowStatus.Cancelled });
    });

    private static Task<IResult> RetryStepAsync(string id, int index, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) => JobApi.Guarded(async () =>
    {
        if (index < 0) return ApiError.Validation("Validation failed: the step index must be 0 or more");
        if (!await VisibleAsync(id, user, grains, ct)) return NotFound(id);
        await grains.Workflow(id).RetryStepAsync(index, ct);
        return Results.Json(new { success = true, workflow_id = id, step_index = index, status = WorkflowStatus.Running });
    });

    private static async Task<IResult> JobCompletedAsync(string id, HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var (obj, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (obj is null) return error!;
        if (obj["job_id"] is not JsonValue jobId || jobId.GetValueKind() != System.Text.Json.JsonValueKind.String
            || jobId.GetValue<string>() is not { Length: > 0 and <= 128 } job)
            return ApiError.Validation("Validation failed: the body must be {job_id: string, result?}");
        return await JobApi.Guarded(async () =>
        {
            var counted = await grains.Workflow(id).JobCompletedAsync(job, obj["result"]?.DeepClone(), ct);
            return Results.Json(new { success = true, already_completed = counted ? (bool?)null : true }, ClusterJson.Options);
        });
    }

    private static IResult NotFound(string id) =>
        ApiError.Result(StatusCodes.Status404NotFound, ErrorCodes.WorkflowNotFound, $"Workflow not found: {id}");
}
