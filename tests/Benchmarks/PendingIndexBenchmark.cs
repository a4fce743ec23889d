using System.Diagnostics;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;

namespace Cluster.Benchmarks;

/// <summary>
/// The <c>claims</c> benchmark's question asked of the in-memory <see cref="PendingIndex"/> a job queue grain
/// will hold: with N pending jobs of which 1 % match the worker (20 requirement shapes, 19 of which it cannot
/// serve), the cost of one claim at N = 1k, 100k and 1M, and its ratio to the 1k figures. The backlog stays
/// at N: before each timed claim one matching job is added (untimed). Then it splits a claim into choosing and
/// taking, and prints what filling cost.
/// </summary>
public static class PendingIndexBenchmark
{
    private static readonly WorkerCapabilities Worker = new() { GpuMemory = 24, ModelTypes = ["model-0"], Capabilities = ["text-to-image"] };

    private static readonly JobRequirements[] Shapes = [.. Enumerable.Range(0, 20)
        .Select(shape => new JobRequirements { ModelType = "model-" + shape, Capabilities = ["text-to-image"] })];

    public static Task<int> RunAsync(string[] args)
    {
        var backlogs = args.Length > 0 ? args.Select(int.Parse).ToArray() : [1_000, 100_000, 1_000_000];
        const int Claims = 100_000;

        // Untimed: lets tiered compilation settle, so the first row does not pay for the JIT.
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed < TimeSpan.FromSeconds(2)) Measure(Fill(1_000, out _), 1_000, Claims / 10);

        Console.WriteLine($"pending index claim cost vs backlog: 1 % of the backlog matches, 20 requirement shapes, {Claims:N0} timed claims each");
        Console.WriteLine($"{"backlog",10} {"p50 µs",10} {"p99 µs",10} {"p50 ratio",10} {"p99 ratio",10}");
        (double P50, double P99)? baseline = null;
        var details = new List<string>();
        foreach (var backlog in backlogs)
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var index = Fill(backlog, out var fillTime);
            var heap = GC.GetTotalMemory(forceFullCollection: true) - before;
            var timings = Measure(index, backlog, Claims);
            var (peek, remove) = MeasureParts(index, backlog, Claims);
            details.Add($"{backlog,10:N0} {peek,10:F3} {remove,10:F3} {fillTime.TotalNanoseconds / backlog,10:N0} {(double)heap / backlog,10:N0}");
            Array.Sort(timings);
            var p50 = timings[Claims / 2];
            var p99 = timings[(int)(Claims * 0.99)];
            baseline ??= (p50, p99);
            Console.WriteLine($"{backlog,10:N0} {p50,10:F3} {p99,10:F3} {p50 / baseline.Value.P50,10:F2} {p99 / baseline.Value.P99,10:F2}");
        }
        Console.WriteLine();
        Console.WriteLine("where the time goes: p50 of choosing (TryPeek) and of taking (Remove); filling, per job");
        Console.WriteLine($"{"backlog",10} {"peek µs",10} {"remove µs",10} {"add ns",10} {"heap B",10}");
        details.ForEach(Console.WriteLine);
        return Task.FromResult(0);
    }

    /// <summary>The backlog, 1 % of it of the shape the worker can serve; priorities and shapes as in <c>claims</c>.</summary>
    private static PendingIndex Fill(int backlog, out TimeSpan elapsed)
    {
        var index = new PendingIndex();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < backlog; i++)
        {
            var shape = i % 100 == 0 ? 0 : 1 + i % 19;
            index.Add(new PendingJob("job-" + i, shape % 7 * 10, i, Shapes[shape]));
        }
        elapsed = Stopwatch.GetElapsedTime(started);
        return index;
    }

    private static double[] Measure(PendingIndex index, int backlog, int claims)
    {
        var timings = new double[claims];
        long sequence = backlog;
        for (var i = 0; i < claims; i++)
        {
            index.Add(new PendingJob("extra-" + sequence, 0, sequence++, Shapes[0]));
            var started = Stopwatch.GetTimestamp();
            var claimed = index.TryClaim(Worker, out _);
            // Not Stopwatch.GetElapsedTime: a TimeSpan counts 100 ns ticks, coarser than a claim.
            timings[i] = (Stopwatch.GetTimestamp() - started) * 1e6 / Stopwatch.Frequency;
            if (!claimed) throw new InvalidOperationException("a matching job was not claimed");
        }
        if (index.Count != backlog) throw new InvalidOperationException("the backlog did not stay constant");
        return timings;
    }

    private static (double PeekP50, double RemoveP50) MeasureParts(PendingIndex index, int backlog, int claims)
    {
        var peeks = new double[claims];
        var removes = new double[claims];
        long sequence = backlog + claims;
        for (var i = 0; i < claims; i++)
        {
            index.Add(new PendingJob("extra-" + sequence, 0, sequence++, Shapes[0]));
            var started = Stopwatch.GetTimestamp();
            index.TryPeek(Worker, out var job);
            var peeked = Stopwatch.GetTimestamp();
            index.Remove(job!.JobId);
            var removed = Stopwatch.GetTimestamp();
            peeks[i] = (peeked - started) * 1e6 / Stopwatch.Frequency;
            removes[i] = (removed - peeked) * 1e6 / Stopwatch.Frequency;
        }
        Array.Sort(peeks);
        Array.Sort(removes);
        return (peeks[claims / 2], removes[claims / 2]);
    }
}
