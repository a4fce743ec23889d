using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Grains.Jobs;

/// <summary>The job a submission or a workflow step creates, built in one place for both.</summary>
internal static class JobSpec
{
    /// <summary>A new job's id on either engine: a version 7 GUID, so ids sort by creation time.</summary>
    public static string NewId() => Guid.CreateVersion7().ToString();

    public static JsonObject From(JobSubmission submission) => new()
    {
        ["id"] = NewId(),
        ["type"] = submission.Type,
        ["priority"] = submission.Priority,
        ["payload"] = submission.Payload.ToJsonString(ClusterJson.Options),
        ["requirements"] = submission.Requirements is null ? null : JsonSerializer.Serialize(submission.Requirements, ClusterJson.Options),
        ["max_retries"] = submission.MaxRetries,
        ["timeout_ms"] = submission.TimeoutMs,
        ["idempotency_key"] = submission.IdempotencyKey,
        ["webhook_url"] = submission.WebhookUrl,
        ["webhook_events"] = submission.WebhookEvents is { Count: > 0 } events ? string.Join(',', events) : null,
    };
}
