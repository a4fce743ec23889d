using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Jobs;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal sealed class LuaWorkflowCollection(IRedis redis) : IWorkflowCollection
{
    public async Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default)
    {
        var id = Guid.CreateVersion7().ToString();
        var jobs = new JsonArray();
        foreach (var step in definition.Steps)
        {
            var job = JobSpec.From(step.Job);
            job["depends_on"] = string.Join(',', step.DependsOn.Select(d => d.ToString(CultureInfo.InvariantCulture)));
            jobs.Add(job);
        }
        var spec = new JsonObject
        {
            ["id"] = id,
            ["name"] = definition.Name,
            ["description"] = definition.Description,
            ["failure_policy"] = definition.FailurePolicy,
            ["webhook_url"] = definition.WebhookUrl,
            ["steps"] = definition.StepsJson.ToJsonString(ClusterJson.Options),
            ["jobs"] = jobs,
        };
        var reply = await redis.CallAsync("workflow_create", [spec.ToJsonString()], cancellationToken).ConfigureAwait(false);
        return new CreatedWorkflow(id, reply.Items.Select(i => i.ToString()).ToArray());
    }

    public async Task<Page<WorkflowState>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        var max = cursor is not null && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            ? "(" + c.ToString(CultureInfo.InvariantCulture)
            : "+inf";
        var ids = await redis.ExecuteAsync("ZREVRANGEBYSCORE", ["workflows", max, "-inf", "WITHSCORES", "LIMIT", 0, limit + 1], cancellationToken).ConfigureAwait(false);
        var count = ids.Items.Count / 2;
        var taken = Math.Min(count, limit);
        var loads = new Task<RespValue>[taken];
        for (var i = 0; i < taken; i++) loads[i] = redis.ExecuteAsync("HGETALL", ["workflow:" + ids.Items[2 * i]], cancellationToken);
        await Task.WhenAll(loads).ConfigureAwait(false);
        var items = loads.Select(l => l.Result).Where(r => r.Items.Count > 0).Select(WorkflowHash.Read).ToArray();
        var next = count > limit ? ids.Items[2 * (limit - 1) + 1].ToString() : null;
        return new Page<WorkflowState>(items, next);
    }
}
