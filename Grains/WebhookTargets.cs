using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Storage;

namespace Cluster.Grains;

/// <summary>
/// Where the silos' webhook delivery finds the webhook of a job or workflow: a hash <c>webhook:{kind}:{id}</c> with
/// <c>webhook_url</c> and <c>webhook_events</c> (comma-separated), written with the entity's creation, in the same step;
/// and which of its events are delivered, each published on the <c>hooks</c> topic in the write that makes it.
/// </summary>
public static class WebhookTargets
{
    /// <summary>
    /// The topic of the events to deliver: only those of an entity with a webhook that wants them, so that the silos'
    /// consumer group reads nothing of the jobs without one.
    /// </summary>
    public const string Topic = "hooks";

    /// <summary>Job events every job with a <c>webhook_url</c> is told about.</summary>
    public static readonly IReadOnlySet<string> JobTerminal = new HashSet<string>(StringComparer.Ordinal) { "job_completed", "job_dead", "job_cancelled" };

    /// <summary>Job events a job is told about only if its <c>webhook_events</c> names them (by the short name).</summary>
    public static readonly IReadOnlyDictionary<string, string> JobOptIn = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["job_failed"] = "failed", ["job_progress"] = "progress",
    };

    /// <summary>Workflow events every workflow with a <c>webhook_url</c> is told about.</summary>
    public static readonly IReadOnlySet<string> WorkflowTerminal = new HashSet<string>(StringComparer.Ordinal) { "workflow_completed", "workflow_failed", "workflow_cancelled" };

    /// <summary>The hash the webhook of <paramref name="kind"/> (<c>job</c> or <c>workflow</c>) <paramref name="id"/> is in.</summary>
    public static string Key(string kind, string id) => $"webhook:{kind}:{id}";

    /// <summary>Whether a job or workflow that asked for <paramref name="optedIn"/> (short names) is told about <paramref name="type"/>.</summary>
    public static bool Wants(string type, IEnumerable<string>? optedIn) =>
        JobTerminal.Contains(type) || WorkflowTerminal.Contains(type)
        || (JobOptIn.TryGetValue(type, out var name) && optedIn is not null && optedIn.Contains(name, StringComparer.Ordinal));

    internal static void Register(Outbox outbox, string kind, string id, string url, IReadOnlyList<string>? events)
    {
        var key = Key(kind, id);
        outbox.HashSet(key, "webhook_url", url);
        if (events is { Count: > 0 }) outbox.HashSet(key, "webhook_events", string.Join(',', events));
    }

    /// <summary>Publishes <paramref name="event"/> for delivery, in the same write, if the entity's webhook wants it.</summary>
    internal static void PublishIfWanted(Outbox outbox, string id, string? url, IEnumerable<string>? optedIn, TopicEvent @event)
    {
        if (url is { Length: > 0 } && Wants(@event.Type, optedIn)) outbox.Publish(Topic, id, @event);
    }
}
