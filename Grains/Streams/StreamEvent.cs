namespace Cluster.Grains.Streams;

/// <summary>One entry of a Redis stream: its id (which orders events and serves as a resume cursor) and its fields.</summary>
public sealed record StreamEvent(string Stream, string Id, IReadOnlyDictionary<string, string> Fields)
{
    public string Type => Fields.TryGetValue("type", out var t) ? t : "";
    public string? this[string field] => Fields.TryGetValue(field, out var v) ? v : null;
}

/// <summary>The grain event streams, written by the outbox storage in the same step as each transition.</summary>
public static class EventStreams
{
    public const string Jobs = "events:jobs";
    public const string Workers = "events:workers";
    public const string Machines = "events:machines";
    public const string Workflows = "events:workflows";

    /// <summary>The events to deliver to webhooks (<see cref="WebhookTargets.Topic"/>); not served to clients.</summary>
    public const string Hooks = "events:hooks";
}
