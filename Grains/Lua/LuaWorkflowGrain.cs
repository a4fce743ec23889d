using System.Globalization;
using System.Text.Json.Nodes;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal sealed class LuaWorkflowGrain(IRedis redis, string id) : IWorkflowGrain
{
    /// <summary>How many keys one SCAN step looks at when finding the jobs of a workflow written by seed-era code.</summary>
    private const int ScanCount = 1000;

    public string Id { get; } = id;

    public async Task<WorkflowView?> GetAsync(CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("workflow_get", [Id], cancellationToken);
        if (reply.IsNull || reply.Items.Count == 0) return null;
        var workflow = WorkflowHash.Read(reply.Items[0]) with { Id = Id };
        IReadOnlyList<RespValue> hashes = reply.Items.Skip(1).Where(h => !h.IsNull && h.Items.Count > 0).ToArray();
        // Seed 001 writes workflow:{id} and its jobs with HMSET, without the list of step jobs.
        if (hashes.Count == 0 && workflow.TotalSteps > 0) hashes = await SeedEraJobsAsync(cancellationToken);
        var steps = hashes
            .Select((hash, position) => (Job: JobHash.Read(hash)!, DependsOn: DependsOn(hash), Position: position))
            .Select(s => new WorkflowStep
            {
                JobId = s.Job.Id, StepIndex = s.Job.StepIndex ?? s.Position, Type = s.Job.Type.Length == 0 ? null : s.Job.Type,
                Status = s.Job.Status, Progress = s.Job.Progress, Result = s.Job.Result, Error = s.Job.Error, DependsOn = s.DependsOn,
            })
            .ToArray();
        return new WorkflowView(workflow, steps);
    }

    public Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default) =>
        redis.CallAsync("workflow_cancel", [Id, reason ?? ""], cancellationToken);

    public Task RetryStepAsync(int stepIndex, CancellationToken cancellationToken = default) =>
        redis.CallAsync("workflow_retry_step", [Id, stepIndex], cancellationToken);

    public async Task<bool> JobCompletedAsync(string jobId, JsonNode? result, CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("workflow_job_completed",
            [Id, jobId, result?.ToJsonString(ClusterJson.Options) ?? "null"], cancellationToken);
        return reply.ToString() == "OK";
    }

    private static IReadOnlyList<int> DependsOn(RespValue job)
    {
        if (job.IsNull || job.Items.Count == 0) return [];
        var fields = job.ToDictionary();
        if (!fields.TryGetValue("depends_on", out var text) || text.IsNull) return [];
        return text.ToString().Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Finds the jobs naming this workflow by scanning the job hashes: slow, but only for workflows seed-era code wrote.</summary>
    private async Task<IReadOnlyList<RespValue>> SeedEraJobsAsync(CancellationToken cancellationToken)
    {
        var jobs = new List<(JobState Job, RespValue Hash)>();
        var cursor = "0";
        do
        {
            var page = await redis.ExecuteAsync("SCAN", [cursor, "MATCH", "job:*", "COUNT", ScanCount, "TYPE", "hash"], cancellationToken);
            cursor = page.Items[0].ToString();
            foreach (var key in page.Items[1].Items)
            {
                var owner = await redis.ExecuteAsync("HGET", [key.ToString(), "workflow_id"], cancellationToken);
                if (owner.IsNull || owner.ToString() != Id) continue;
                var hash = await redis.ExecuteAsync("HGETALL", [key.ToString()], cancellationToken);
                if (JobHash.Read(hash) is { } job) jobs.Add((job, hash));
            }
        }
        while (cursor != "0");
        return jobs
            .OrderBy(j => j.Job.StepIndex ?? int.MaxValue).ThenBy(j => j.Job.CreatedAt, StringComparer.Ordinal).ThenBy(j => j.Job.Id, StringComparer.Ordinal)
            .Select(j => j.Hash).ToArray();
    }

    public override string ToString() => "workflow:" + Id;
}
