using System.Globalization;
using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Streams;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// Which stream events become webhook deliveries, and the JSON body each one gets:
/// <c>{delivery_id, event, occurred_at, job: {id, status, type, result?, error?, workflow_id?, …}}</c> or
/// <c>{…, workflow: {id, status, …}}</c>, built once when the event is read so every retry sends the same bytes.
/// </summary>
public static class WebhookEvents
{
    /// <summary>The grain an event is about, if it is of a kind that may be delivered: ("job", id) or ("workflow", id).</summary>
    public static (string Kind, string Id)? Subject(StreamEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if ((WebhookTargets.JobTerminal.Contains(e.Type) || WebhookTargets.JobOptIn.ContainsKey(e.Type)) && e["job_id"] is { Length: > 0 } job)
            return ("job", job);
        if (WebhookTargets.WorkflowTerminal.Contains(e.Type) && e["workflow_id"] is { Length: > 0 } workflow)
            return ("workflow", workflow);
        return null;
    }

    /// <summary>Whether a job that asked for <paramref name="optedIn"/> (comma-separated short names) is told about <paramref name="type"/>.</summary>
    public static bool Wanted(string type, string? optedIn) =>
        WebhookTargets.Wants(type, (optedIn ?? "").Split(',', StringSplitOptions.TrimEntries));

    /// <summary>
    /// The same id for the same stream entry, however often it is read: a silo that reads an event again after
    /// another died holding it finds the delivery already there. Receivers see it in <c>X-Cluster-Delivery</c>.
    /// </summary>
    public static string DeliveryId(StreamEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return (WebhookTargets.WorkflowTerminal.Contains(e.Type) ? "wh-w-" : "wh-j-") + e.Id;
    }

    public static byte[] Body(StreamEvent e, string kind, string deliveryId)
    {
        ArgumentNullException.ThrowIfNull(e);
        var subject = EventJson.ToJson(e.Fields.Where(f => f.Key != "type").Select(f => new KeyValuePair<string, string>(Rename(kind, f.Key), f.Value)));
        var body = new JsonObject
        {
            ["delivery_id"] = deliveryId,
            ["event"] = e.Type,
            ["occurred_at"] = OccurredAt(e.Id),
            [kind] = subject,
        };
        return System.Text.Encoding.UTF8.GetBytes(body.ToJsonString());
    }

    private static string Rename(string kind, string field) => (kind, field) switch
    {
        ("job", "job_id") => "id",
        ("job", "job_type") => "type",
        ("workflow", "workflow_id") => "id",
        _ => field,
    };

    /// <summary>When the event happened: the milliseconds of its stream id, in ISO 8601 UTC.</summary>
    private static string OccurredAt(string streamId) =>
        StreamIds.TryParse(streamId, out var id)
            ? DateTimeOffset.FromUnixTimeMilliseconds(id.Ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
            : DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
