using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Jobs;

/// <summary>Reads a <c>job:{id}</c> hash, including ones written by seed-era code, into a <see cref="JobState"/>.</summary>
internal static class JobHash
{
    public static JobState? Read(RespValue reply)
    {
        if (reply.IsNull || reply.Items.Count == 0) return null;
        var f = HashFields.Of(reply);
        string? Text(string name) => f.Text(name);
        int Int(string name) => (int)f.Number(name);
        return new JobState
        {
            Id = Text("id") ?? "",
            Type = Text("type") ?? "",
            Status = Text("status") ?? "",
            Priority = Int("priority"),
            Payload = Json(Text("payload")),
            Requirements = Json(Text("requirements")) is JsonObject req ? req.Deserialize<JobRequirements>(ClusterJson.Options) : null,
            Progress = f.Number("progress"),
            ProgressMessage = Text("progress_message"),
            Result = Json(Text("result")),
            Error = Json(Text("error")) is JsonObject e
                ? new JobError(e["code"]?.ToString() ?? "ERROR", e["message"]?.ToString() ?? "")
                : Text("error") is { } raw ? new JobError("ERROR", raw) : null,
            WorkerId = Text("worker_id"),
            MachineId = Text("machine_id"),
            WorkflowId = Text("workflow_id"),
            StepIndex = Text("step_index") is { } step && int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null,
            RetryCount = Int("retry_count"),
            MaxRetries = Int("max_retries"),
            Attempts = Int("attempts"),
            TimeoutMs = (long)f.Number("timeout_ms"),
            CreatedAt = Text("created_at"),
            AssignedAt = Text("assigned_at"),
            StartedAt = Text("started_at"),
            CompletedAt = Text("completed_at"),
            FailedAt = Text("failed_at"),
            WebhookUrl = Text("webhook_url"),
        };
    }

    /// <summary>Stored JSON, or the raw text as a string when someone stored something that is not JSON.</summary>
    private static JsonNode? Json(string? text)
    {
        if (text is null) return null;
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }
}
