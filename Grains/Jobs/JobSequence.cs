namespace Cluster.Grains.Jobs;

/// <summary>A job's place in line among jobs of equal priority, and its position in listings.</summary>
public static class JobSequence
{
    private static long _last;

    /// <summary>Microseconds since 1970, never the same twice in this process.</summary>
    public static long Next()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        while (true)
        {
            var last = Interlocked.Read(ref _last);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last) return next;
        }
    }
}
