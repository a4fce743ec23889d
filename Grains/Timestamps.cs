using System.Globalization;

namespace Cluster.Grains;

/// <summary>Times as the grains keep them (milliseconds since 1970) and show them (ISO 8601 UTC with milliseconds).</summary>
internal static class Timestamps
{
    public static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Fixed width, so two of them compare by time as strings; null for 0 (never).</summary>
    public static string? Iso(long ms) =>
        ms == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
