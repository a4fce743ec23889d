namespace Cluster.Testing;

/// <summary>Waits for something that happens elsewhere (another process, a background loop) without guessing how long it takes.</summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Checks <paramref name="condition"/> every few milliseconds until it holds; throws <see cref="TimeoutException"/> at the deadline.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Gave up waiting: {what}");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }
}
