using System.Globalization;

namespace Cluster.Grains.Streams;

/// <summary>Redis stream ids (<c>ms-seq</c>): parsing and ordering.</summary>
public static class StreamIds
{
    public static bool TryParse(string? id, out (long Ms, long Seq) parsed)
    {
        parsed = default;
        if (id is null) return false;
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0) return false;
        if (!long.TryParse(id.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) return false;
        if (!long.TryParse(id.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq)) return false;
        parsed = (ms, seq);
        return true;
    }

    /// <summary>Orders two valid ids; an invalid id sorts first.</summary>
    public static int Compare(string a, string b)
    {
        TryParse(a, out var x);
        TryParse(b, out var y);
        return x.Ms != y.Ms ? x.Ms.CompareTo(y.Ms) : x.Seq.CompareTo(y.Seq);
    }
}
