using Cluster.Grains.Storage;

namespace Cluster.Grains;

/// <summary>
/// Where the silos' webhook delivery finds the webhook of a job or workflow on the Orleans engine: a hash
/// <c>webhook:{kind}:{id}</c> with <c>webhook_url</c> and <c>webhook_events</c> (comma-separated), the fields the Lua
/// engine keeps in its <c>{kind}:{id}</c> hashes. Written with the entity's creation, in the same step.
/// </summary>
public static class WebhookTargets
{
    /// <summary>The hash the webhook of <paramref name="kind"/> (<c>job</c> or <c>workflow</c>) <paramref name="id"/> is in, on <paramref name="engine"/>.</summary>
    public static string Key(string engine, string kind, string id) => engine == Engines.Orleans ? $"webhook:{kind}:{id}" : $"{kind}:{id}";

    internal static void Register(Outbox outbox, string kind, string id, string url, IReadOnlyList<string>? events)
    {
        var key = Key(Engines.Orleans, kind, id);
        outbox.HashSet(key, "webhook_url", url);
        if (events is { Count: > 0 }) outbox.HashSet(key, "webhook_events", string.Join(',', events));
    }
}
