namespace Cluster.Grains.Redis;

/// <summary>
/// Delays between reconnection attempts: doubling from 50 ms up to 2 s, with jitter so that many
/// clients that lost the same server do not knock on it in lockstep.
/// </summary>
internal sealed class Backoff
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(2);
    private TimeSpan _next = First;

    public TimeSpan Next()
    {
        var delay = _next;
        _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Max.Ticks));
#pragma warning disable CA5394 // jitter, not security
        return delay * (0.8 + Random.Shared.NextDouble() * 0.4);
#pragma warning restore CA5394
    }
}
