namespace Cluster.Silo.Webhooks;

/// <summary>A delivery a sender has claimed for one attempt: what to POST where, and which log it reports to.</summary>
public sealed record ClaimedDelivery(string Id, int Attempt, string Url, ReadOnlyMemory<byte> Body, string Event, string LogKey);

/// <summary>What one claim returned: Redis' clock, the deliveries now held, and when the next one falls due (null if none).</summary>
public sealed record DeliveryClaim(long NowMs, IReadOnlyList<ClaimedDelivery> Deliveries, long? NextDueMs);

/// <summary>How an attempt ended.</summary>
public static class DeliveryOutcome
{
    public const string Delivered = "delivered";
    public const string Retrying = "retrying";
    public const string Failed = "failed";
}
