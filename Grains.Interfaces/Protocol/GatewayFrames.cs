using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Protocol;

/// <summary>Frame types of the gateway protocol on <c>/ws</c> (docs/protocol.md). The envelope is <see cref="WorkerFrame"/>'s.</summary>
public static class GatewayFrameTypes
{
    // client → silo
    public const string Subscribe = "subscribe";
    public const string Unsubscribe = "unsubscribe";
    public const string Ping = "ping";
    public const string Pong = "pong";
    /// <summary>Seed 001's message: follow one job with seed-style messages.</summary>
    public const string SubscribeJob = "subscribe_job";

    // silo → client
    public const string Welcome = "welcome";
    public const string Subscribed = "subscribed";
    public const string Event = "event";
    public const string Lagged = "lagged";
}

/// <summary>The topics a client may subscribe to, and the stream behind each.</summary>
public static class GatewayTopics
{
    public const string Jobs = "jobs";
    public const string Workers = "workers";
    public const string Machines = "machines";
    public const string Silos = "silos";
    public const string Workflows = "workflows";

    public static readonly IReadOnlyDictionary<string, string> Streams = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [Jobs] = "events:jobs",
        [Workers] = "events:workers",
        [Machines] = "events:machines",
        [Silos] = "events:silos",
        [Workflows] = "events:workflows",
    };
}

/// <summary>Which events of a topic a subscription wants; every field is optional, lists match any of their values.</summary>
public sealed record EventFilter
{
    public string? JobId { get; init; }
    public string? WorkflowId { get; init; }
    public IReadOnlyList<string>? MachineIds { get; init; }
    public IReadOnlyList<string>? JobTypes { get; init; }
    public IReadOnlyList<string>? EventTypes { get; init; }
}

public sealed record SubscribeFrame : WorkerFrame
{
    public string? Topic { get; init; }
    public EventFilter? Filter { get; init; }
    /// <summary>The last event id the client saw; events after it are replayed before the live feed.</summary>
    public string? Since { get; init; }
    /// <summary>Seed 001's <c>{type:"subscribe", job_id}</c> and <c>subscribe_job</c>.</summary>
    public string? JobId { get; init; }
}

public sealed record UnsubscribeFrame : WorkerFrame
{
    public string Subscription { get; init; } = "";
}

public sealed record WelcomeFrame : WorkerFrame
{
    public long HeartbeatMs { get; init; }
    public int MaxFrameBytes { get; init; }
}

public sealed record SubscribedFrame : WorkerFrame
{
    public string? Ack { get; init; }
    public required string Subscription { get; init; }
    public required string Topic { get; init; }
    /// <summary>True when <c>since</c> was older than the stream's first entry, so some events are gone.</summary>
    public bool? Truncated { get; init; }
}

public sealed record LaggedFrame : WorkerFrame
{
    public required string Subscription { get; init; }
    public string? LastEventId { get; init; }
}

/// <summary>Seed 001's flat job messages: <c>job_assigned</c>, <c>job_progress</c>, <c>job_completed</c>, <c>job_failed</c>.</summary>
public sealed record SeedJobFrame : WorkerFrame
{
    public required string JobId { get; init; }
    public string? Status { get; init; }
    public string? WorkerId { get; init; }
    public double? Progress { get; init; }
    public string? Message { get; init; }
    public JsonNode? Result { get; init; }
    public JsonNode? Error { get; init; }
    public string? EventId { get; init; }
}
