using Cluster.Grains.Storage;

namespace Cluster.Grains;

/// <summary>
/// Where the silos' webhook delivery finds the webhook of a job or workflow: a hash <c>webhook:{kind}:{id}</c> with
/// <c>webhook_url</c> and <c>webhook_events</c> (comma-separated), written with the entity's creation, in the same step.
/// </summary>
public static class WebhookTargets
{
    /// <summary>The hash the webhook of <paramref name="kind"/> (<c>job</c> or <c>workflow</c>) <paramref name="id"/> is in.</summary>
    public static string Key(string kind, string id) => $"webhook:{kind}:{id}";

    internal static void Register(Outbox outbox, string kind, string id, string url, IReadOnlyList<string>? events)
    {
        var key = Key(kind, id);
        outbox.HashSet(key, "webhook_url", url);
        if (events is { Count: > 0 }) outbox.HashSet(key, "webhook_events", string.Join(',', events));
    }
}
