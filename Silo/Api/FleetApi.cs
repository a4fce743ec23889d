using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Silo.Auth;

namespace Cluster.Silo.Api;

/// <summary>Workers and machines, paginated (seed 002: the monitor must hold hundreds of them).</summary>
public static class FleetApi
{
    public static void MapFleetApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/workers", async (HttpRequest request, GrainFactory grains, CancellationToken ct) =>
        {
            if (!ListLimit.TryRead(request, out var limit, out var badLimit)) return badLimit;
            var page = await grains.Fleet.ListWorkersAsync(JobApi.NullIfEmpty(request.Query["cursor"]), limit, ct);
            return Results.Json(new { success = true, workers = page.Items, next_cursor = page.NextCursor }, ClusterJson.Options);
        }).RequireScope(ApiScopes.Monitor);

        app.MapGet("/api/machines", async (HttpRequest request, GrainFactory grains, CancellationToken ct) =>
        {
            if (!ListLimit.TryRead(request, out var limit, out var badLimit)) return badLimit;
            var ids = JobApi.NullIfEmpty(request.Query["ids"])?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (ids is { Length: > JobLimits.MaxListLimit }) return ApiError.Validation($"Validation failed: 'ids' names at most {JobLimits.MaxListLimit} machines");
            var page = await grains.Fleet.ListMachinesAsync(JobApi.NullIfEmpty(request.Query["cursor"]), limit, ids, ct);
            return Results.Json(new { success = true, machines = page.Items, next_cursor = page.NextCursor }, ClusterJson.Options);
        }).RequireScope(ApiScopes.Monitor);

        app.MapGet("/api/stats", async (HttpRequest request, GrainFactory grains, CancellationToken ct) =>
        {
            var minutes = int.TryParse(request.Query["minutes"], out var m) ? m : 15;
            var stats = await grains.Stats.GetAsync(minutes, ct);
            return Results.Json(new
            {
                success = true, jobs = stats.Jobs, per_minute = stats.PerMinute,
                workers = new { online = stats.WorkersOnline }, machines = new { total = stats.Machines },
            }, ClusterJson.Options);
        }).RequireScope(ApiScopes.Monitor);

        app.MapGet("/api/silos", async (IGrainFactory grains) =>
            Results.Json(new { success = true, silos = await Membership.SiloList.ReadAsync(grains) }))
            .RequireScope(ApiScopes.Monitor);

        // Seed 004's service discovery, for any client: where the live silos answer and how loaded each is, least loaded first.
        app.MapGet("/api/discovery", async (IGrainFactory grains) =>
        {
            var silos = (await Membership.SiloList.ReadAsync(grains))
                .Select(s => new
                {
                    id = s["id"],
                    urls = s["addresses"].Split(' ', StringSplitOptions.RemoveEmptyEntries),
                    load = new { workers = Number(s["workers"]), subscribers = Number(s["subscribers"]), memory_mb = Number(s["memory_mb"]) },
                    last_seen = s["last_seen"],
                })
                .Where(s => s.urls.Length > 0)
                .OrderBy(s => (s.load.workers ?? 0) + (s.load.subscribers ?? 0))
                .ToArray();
            return Results.Json(new { success = true, silos });
        }).RequireScope(ApiScopes.Submit, ApiScopes.Worker, ApiScopes.Monitor);

        app.MapGet("/api/machines/{id}", async (string id, GrainFactory grains, CancellationToken ct) =>
        {
            var machine = await grains.Machine(id).GetAsync(ct);
            return machine is null
                ? ApiError.Result(StatusCodes.Status404NotFound, ErrorCodes.MachineNotFound, $"Machine not found: {id}")
                : Results.Json(new { success = true, machine }, ClusterJson.Options);
        }).RequireScope(ApiScopes.Monitor);
    }

    private static long? Number(string text) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
}
