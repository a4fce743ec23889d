using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

/// <summary>Reads a <c>job:{id}</c> hash, including ones written by seed-era code, into a <see cref="JobState"/>.</summary>
internal static class JobHash
{
    public static JobState? Read(RespValue reply)
    {
        if (reply.IsNull || reply.Items.Count == 0) return null;
        var f = HashFields.Of(reply);
        int Int(string name) => (int)f.Number(name);
        return new JobState
        {
            Id = f.Text("id") ?? "",
            Type = f.Text("type") ?? "",
            Status = f.Text("status") ?? "",
            Priority = Int("priority"),
            Payload = Json(f.Text("payload")),
            Requirements = Json(f.Text("requirements")) is JsonObject req ? req.Deserialize<JobRequirements>(ClusterJson.Options) : null,
            Progress = f.Number("progress"),
            ProgressMessage = f.Text("progress_message"),
            Result = Json(f.Text("result")),
            Error = Json(f.Text("error")) is JsonObject e
                ? new JobError(e["code"]?.ToString() ?? "ERROR", e["message"]?.ToString() ?? "")
                : f.Text("error") is { } raw ? new JobError("ERROR", raw) : null,
            WorkerId = f.Text("worker_id"),
            MachineId = f.Text("machine_id"),
            WorkflowId = f.Text("workflow_id"),
            StepIndex = f.Text("step_index") is { } step && int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null,
            RetryCount = Int("retry_count"),
            MaxRetries = Int("max_retries"),
            Attempts = Int("attempts"),
            TimeoutMs = (long)f.Number("timeout_ms"),
            CreatedAt = f.Text("created_at"),
            AssignedAt = f.Text("assigned_at"),
            StartedAt = f.Text("started_at"),
            CompletedAt = f.Text("completed_at"),
            FailedAt = f.Text("failed_at"),
            WebhookUrl = f.Text("webhook_url"),
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
