namespace Cluster.Client.Agent;

/// <summary>
/// Exponential reconnection delays with jitter: 0.5 s, 1 s, 2 s, … capped at <see cref="Cap"/>. The jitter spreads
/// the reconnections of many workers after a silo restart, so they do not all arrive in the same instant.
/// </summary>
public sealed class Backoff(TimeSpan initial, TimeSpan cap, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private int _attempt;

    public static Backoff Default() => new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));

    public TimeSpan Cap => cap;

    /// <summary>The delay before the next attempt: the exponential step, between 80 % and 120 % of it, never above the cap.</summary>
    public TimeSpan Next()
    {
        var exponential = initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt++, 30));
        var jittered = Math.Min(exponential, cap.TotalMilliseconds) * (0.8 + (0.4 * _random.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, cap.TotalMilliseconds));
    }

    /// <summary>The shortest delay, jittered, without counting an attempt: for a silo that answered "not yet".</summary>
    public TimeSpan Steady() => TimeSpan.FromMilliseconds(initial.TotalMilliseconds * (0.8 + (0.4 * _random.NextDouble())));

    /// <summary>After a connection that worked, start again from the shortest delay.</summary>
    public void Reset() => _attempt = 0;
}
