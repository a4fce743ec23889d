namespace Cluster.Testing;

/// <summary>Polls a condition until it holds or a deadline passes: the honest alternative to sleeping.</summary>
public static class Eventually
{
    public static async Task<T> HoldsAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan? within = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var value = await probe();
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Condition did not hold before the deadline{(because is null ? "" : ": " + because)}; last value: {value}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds; throws <see cref="TimeoutException"/> naming <paramref name="because"/> at the deadline.</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, string because, TimeSpan? within = null) =>
        HoldsAsync(condition, holds => holds, within, because);
}
