using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

/// <summary>A job through the Lua functions in Redis: the engine the Orleans <c>JobGrain</c> replaces.</summary>
internal sealed class LuaJobGrain(IRedis redis, ClusterGrainOptions options, string id) : IJobGrain
{
    public string Id { get; } = id;

    public async Task<JobState?> GetAsync(CancellationToken cancellationToken = default) =>
        JobHash.Read(await redis.ExecuteAsync("HGETALL", ["job:" + Id], cancellationToken));

    public Task ReportProgressAsync(string leaseToken, double progress, string? message = null, CancellationToken cancellationToken = default) =>
        redis.CallAsync("job_progress",
            [Id, leaseToken, progress, message ?? "", (long)options.Lease.TotalMilliseconds], cancellationToken);

    public async Task<bool> CompleteAsync(string leaseToken, JsonNode? result, CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("job_complete",
            [Id, leaseToken, result?.ToJsonString(ClusterJson.Options) ?? "null"], cancellationToken);
        return reply.ToString() == "OK";
    }

    public async Task<JobFailureOutcome> FailAsync(string leaseToken, JobError error, bool retryable = true, CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("job_fail",
        [
            Id, leaseToken, JsonSerializer.Serialize(error, ClusterJson.Options), retryable ? 1 : 0,
            (long)options.RetryBackoff.TotalMilliseconds,
        ], cancellationToken);
        return reply.ToString() == "DEAD" ? JobFailureOutcome.Dead : JobFailureOutcome.Retrying;
    }

    public async Task<IReadOnlyList<JsonObject>> HistoryAsync(CancellationToken cancellationToken = default)
    {
        var entries = await redis.ExecuteAsync("LRANGE", ["job:" + Id + ":events", 0, -1], cancellationToken);
        return entries.Items
            .Select(e => JsonSerializer.Deserialize<Dictionary<string, string>>(e.ToString()) ?? [])
            .Select(fields => Streams.EventJson.ToJson(fields))
            .ToArray();
    }

    public Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default) =>
        redis.CallAsync("job_cancel", [Id, reason ?? ""], cancellationToken);

    public Task RetryAsync(CancellationToken cancellationToken = default) =>
        redis.CallAsync("job_retry", [Id], cancellationToken);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"job:{Id}");
}
