using System.Security.Claims;
using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Silo.Auth;
using Cluster.Silo.Webhooks;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Api;

/// <summary>Seed 001's job routes. See docs/api.md.</summary>
public static class JobApi
{
    public const int MaxBatch = 1000;

    public static RouteGroupBuilder MapJobApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/jobs");
        jobs.MapPost("/submit", SubmitAsync).RequireScope(ApiScopes.Submit);
        jobs.MapPost("/batch", SubmitBatchAsync).RequireScope(ApiScopes.Submit);
        jobs.MapGet("/{id}/status", StatusAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        jobs.MapGet("/{id}/events", HistoryAsync).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);
        jobs.MapGet("/", ListAsync).RequireScope(ApiScopes.Monitor);
        jobs.MapPost("/{id}/cancel", CancelAsync).RequireScope(ApiScopes.Submit);
        jobs.MapPost("/{id}/retry", RetryAsync).RequireScope(ApiScopes.Submit);
        app.MapGet("/api/job-types", (JobTypeCatalog catalog) => Results.Json(new
        {
            success = true,
            job_types = catalog.Types.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => new { name = t.Name, description = t.Description, schema = t.Schema }),
        })).RequireScope(ApiScopes.Submit, ApiScopes.Monitor);

        var internalJobs = app.MapGroup("/api/internal/jobs");
        internalJobs.MapPost("/claim", ClaimAsync).RequireScope(ApiScopes.Worker);
        internalJobs.MapPost("/{id}/progress", ProgressAsync).RequireScope(ApiScopes.Worker);
        internalJobs.MapPost("/{id}/complete", CompleteAsync).RequireScope(ApiScopes.Worker);
        internalJobs.MapPost("/{id}/fail", FailAsync).RequireScope(ApiScopes.Worker);
        return jobs;
    }

    private static async Task<IResult> SubmitAsync(HttpRequest request, ClaimsPrincipal user, GrainFactory grains, JobTypeCatalog catalog, TenantQuota quota, IOptions<WebhookOptions> webhooks, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (body is null) return error!;
        var read = JobSubmissionReader.Read(body, catalog, out var problem, request.Headers["Idempotency-Key"]);
        if (read is null) return ApiError.Validation(problem!);
        var submission = Tenancy.Stamp(read, user);
        // Webhooks: refuse a webhook_url the sender would refuse (SSRF), see Silo/Webhooks/WebhookUrlPolicy.cs.
        if (await WebhookUrlPolicy.CheckAsync(submission.WebhookUrl, webhooks.Value.AllowPrivateNetworks, ct) is { } refused)
            return ApiError.Validation("Validation failed: " + refused);
        if (!await quota.TryTakeJobsAsync(submission.Tenant, 1, ct)) return quota.Refusal(request.HttpContext);
        return await Guarded(async () =>
        {
            var submitted = await grains.Jobs.SubmitAsync(submission, ct);
            return Results.Json(submitted.Created
                ? new { success = true, job_id = submitted.JobId, status = "submitted", duplicate = (bool?)null }
                : new { success = true, job_id = submitted.JobId, status = "submitted", duplicate = (bool?)true }, ClusterJson.Options);
        });
    }

    private static async Task<IResult> SubmitBatchAsync(HttpRequest request, ClaimsPrincipal user, GrainFactory grains, JobTypeCatalog catalog, TenantQuota quota, IOptions<WebhookOptions> webhooks, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (body is null) return error!;
        if (body["jobs"] is not JsonArray list || list.Count is 0 or > MaxBatch)
            return ApiError.Validation($"Validation failed: 'jobs' must be an array of 1 to {MaxBatch} jobs");
        var submissions = new List<JobSubmission>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            var submission = JobSubmissionReader.Read(list[i], catalog, out var problem);
            if (submission is null) return ApiError.Validation($"jobs[{i}]: {problem}");
            submissions.Add(Tenancy.Stamp(submission, user));
        }
        // Webhooks: as for one job, each distinct webhook_url checked once.
        foreach (var url in submissions.Select(s => s.WebhookUrl).OfType<string>().Distinct(StringComparer.Ordinal))
            if (await WebhookUrlPolicy.CheckAsync(url, webhooks.Value.AllowPrivateNetworks, ct) is { } refused)
                return ApiError.Validation($"Validation failed: {refused}");
        if (!await quota.TryTakeJobsAsync(user.UserIdOf(), submissions.Count, ct)) return quota.Refusal(request.HttpContext);
        return await Guarded(async () =>
        {
            var submitted = await Task.WhenAll(submissions.Select(s => grains.Jobs.SubmitAsync(s, ct)));
            return Results.Json(new { success = true, job_ids = submitted.Select(s => s.JobId) });
        });
    }

    private static async Task<IResult> StatusAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct)
    {
        var job = await grains.Job(id).GetAsync(ct);
        return job is null || !Tenancy.MaySee(user, job.Tenant) ? NotFound(id) : Results.Json(new { success = true, job }, ClusterJson.Options);
    }

    private static async Task<IResult> HistoryAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct)
    {
        if (!await VisibleAsync(id, user, grains, ct)) return NotFound(id);
        var history = await grains.Job(id).HistoryAsync(ct);
        return Results.Json(new { success = true, job_id = id, events = history }, ClusterJson.Options);
    }

    /// <summary>Whether the job exists and is the caller's to see (<see cref="Tenancy"/>).</summary>
    public static async Task<bool> VisibleAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) =>
        await grains.Job(id).GetAsync(ct) is { } job && Tenancy.MaySee(user, job.Tenant);

    private static async Task<IResult> ListAsync(HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var q = request.Query;
        var status = NullIfEmpty(q["status"]);
        if (status is not null && !JobStatus.All.Contains(status))
            return ApiError.Validation($"Validation failed: unknown status '{status}'; known are {string.Join(", ", JobStatus.All)}");
        if (!ListLimit.TryRead(request, out var limit, out var badLimit)) return badLimit;
        var page = await grains.Jobs.ListAsync(new JobQuery
        {
            Status = status, Type = NullIfEmpty(q["type"]), WorkerId = NullIfEmpty(q["worker"]), MachineId = NullIfEmpty(q["machine"]),
            WorkflowId = NullIfEmpty(q["workflow"]), Cursor = NullIfEmpty(q["cursor"]), Limit = limit,
        }, ct);
        return Results.Json(new { success = true, jobs = page.Items, next_cursor = page.NextCursor }, ClusterJson.Options);
    }

    private static Task<IResult> CancelAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) => Guarded(async () =>
    {
        if (!await VisibleAsync(id, user, grains, ct)) return NotFound(id);
        await grains.Job(id).CancelAsync("cancelled through the API", ct);
        return Results.Json(new { success = true, job_id = id, status = JobStatus.Cancelled });
    });

    private static Task<IResult> RetryAsync(string id, ClaimsPrincipal user, GrainFactory grains, CancellationToken ct) => Guarded(async () =>
    {
        if (!await VisibleAsync(id, user, grains, ct)) return NotFound(id);
        await grains.Job(id).RetryAsync(ct);
        return Results.Json(new { success = true, job_id = id, status = JobStatus.Pending });
    });

    /// <summary>
    /// A polling worker takes the best job it can serve, under a lease: what seed 001's <c>FCALL findMatchingJob</c> did,
    /// for workers that do not speak <c>/ws/worker</c>. Just <c>{"success": true}</c> when nothing matches.
    /// </summary>
    private static async Task<IResult> ClaimAsync(HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (body is null) return error!;
        if (!TryOptionalText(body, "worker_id", JobLimits.MaxIdLength, out var workerId) || string.IsNullOrEmpty(workerId)
            || !TryOptionalText(body, "machine_id", JobLimits.MaxIdLength, out var machineId))
            return ApiError.Validation($"Validation failed: 'worker_id' (1 to {JobLimits.MaxIdLength} characters) is required; 'machine_id' is optional");
        WorkerCapabilities? capabilities;
        try
        {
            capabilities = body["capabilities"] is { } caps ? System.Text.Json.JsonSerializer.Deserialize<WorkerCapabilities>(caps, ClusterJson.Input) : new WorkerCapabilities();
        }
        catch (System.Text.Json.JsonException e)
        {
            return ApiError.Validation($"Validation failed: 'capabilities' is malformed: {e.Message}");
        }
        if (capabilities is null || capabilities.GpuMemory is < 0 or > 100_000
            || !capabilities.HasValidNames()
            || capabilities.ModelTypes.Count + capabilities.Capabilities.Count > 256)
            return ApiError.Validation("Validation failed: 'capabilities' must be {gpu_memory: 0–100000, model_types: [string], capabilities: [string], pool_type?}");
        return await Guarded(async () =>
        {
            var assignment = await grains.Jobs.ClaimAsync(workerId, machineId ?? "", capabilities, grains.Options.Lease, ct);
            return assignment is null
                ? Results.Json(new { success = true, job = (JobState?)null }, ClusterJson.Options)
                : Results.Json(new { success = true, job = assignment.Job, lease_token = assignment.LeaseToken, lease_expires_at = assignment.LeaseExpiresAtMs }, ClusterJson.Options);
        });
    }

    private static async Task<IResult> ProgressAsync(string id, HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (body is null) return error!;
        if (body["progress"] is not JsonValue p || !p.TryGetValue<double>(out var progress) || progress is < 0 or > 100)
            return ApiError.Validation("Validation failed: 'progress' must be a number from 0 to 100");
        if (!TryOptionalText(body, "message", 1000, out var message) || !TryOptionalText(body, "lease_token", 64, out var token))
            return ApiError.Validation("Validation failed: 'message' and 'lease_token' must be short strings");
        return await Guarded(async () =>
        {
            await grains.Job(id).ReportProgressAsync(token ?? "", progress, message, ct);
            return Results.Json(new { success = true });
        });
    }

    private static async Task<IResult> CompleteAsync(string id, HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var (obj, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (obj is null) return error!;
        if (!TryOptionalText(obj, "lease_token", 64, out var token))
            return ApiError.Validation("Validation failed: 'lease_token' must be a string of at most 64 characters");
        return await Guarded(async () =>
        {
            var changed = await grains.Job(id).CompleteAsync(token ?? "", obj["result"]?.DeepClone(), ct);
            return Results.Json(new { success = true, already_completed = changed ? (bool?)null : true }, ClusterJson.Options);
        });
    }

    private static async Task<IResult> FailAsync(string id, HttpRequest request, GrainFactory grains, CancellationToken ct)
    {
        var (obj, error) = await JsonBody.ReadObjectAsync(request, ct);
        if (obj is null) return error!;
        if (obj["error"] is not JsonObject err
            || !TryOptionalText(err, "code", 64, out var code) || !TryOptionalText(err, "message", 4000, out var message)
            || !TryOptionalText(obj, "lease_token", 64, out var token) || obj["retryable"] is { } r && r.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
            return ApiError.Validation("Validation failed: the body must be {error: {code, message}, retryable?: boolean, lease_token?}");
        return await Guarded(async () =>
        {
            var outcome = await grains.Job(id).FailAsync(token ?? "", new JobError(code ?? "ERROR", message ?? ""), obj["retryable"]?.GetValue<bool>() ?? true, ct);
            return Results.Json(new { success = true, status = outcome == JobFailureOutcome.Dead ? JobStatus.Dead : JobStatus.Delayed });
        });
    }

    /// <summary>Turns a refusal from a grain into the API's error shape.</summary>
    public static async Task<IResult> Guarded(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (ClusterException e)
        {
            return ApiError.From(e);
        }
    }

    private static IResult NotFound(string id) => ApiError.Result(StatusCodes.Status404NotFound, ErrorCodes.JobNotFound, $"Job not found: {id}");

    private static bool TryOptionalText(JsonNode? obj, string name, int maxLength, out string? value)
    {
        value = null;
        var node = obj?[name];
        if (node is null) return true;
        if (node is not JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.String) return false;
        value = v.GetValue<string>();
        return value.Length <= maxLength;
    }

    public static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
