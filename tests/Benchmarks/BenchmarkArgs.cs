using System.Globalization;

namespace Cluster.Benchmarks;

/// <summary>What several benchmarks share: their <c>--name N</c> options and the median of their rounds.</summary>
internal static class BenchmarkArgs
{
    /// <summary>The positive whole number after <paramref name="name"/>, or <paramref name="fallback"/> when the option is absent.</summary>
    public static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        if (at < 0) return fallback;
        if (at + 1 >= args.Length || !int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var value) || value < 1)
            throw new ArgumentException($"{name} needs a positive whole number");
        return value;
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
