using System.Diagnostics;
using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Benchmarks;

/// <summary>
/// The cost of one claim through the job queue grain as the backlog grows: with N pending jobs of which 1 % match the
/// worker (spread over 20 requirement shapes, 19 of which it cannot serve), it times claims at N = 1k, 100k and 1M and
/// prints p50 and p99 and the ratio of each to the 1k figures. The backlog stays at N while it measures: before each
/// timed claim one matching job is submitted (untimed), at a priority above the backlog's so that it is the one claimed.
/// Then it prices fair sharing: the same claims with a backlog of 100k spread over 100 tenants, against that backlog
/// of no tenant, each claim served by fair turns.
/// </summary>
/// <remarks>
/// The backlog is put in the queue grain as entries (<see cref="IJobQueueGrain.EnqueueAsync"/>) without job grains
/// behind them: a million job grains would hold gigabytes, and the claim never reaches them, since it takes the
/// best match, which is the submitted job. What is timed is what a worker waits for: the call to the queue, its
/// index, and the assignment through the job's grain, written to Redis.
/// </remarks>
public static class ClaimBenchmark
{
    private static readonly WorkerCapabilities Worker = new() { GpuMemory = 24, ModelTypes = ["model-0"], Capabilities = ["text-to-image"] };

    public static async Task<int> RunAsync(string[] args)
    {
        var backlogs = args.Length > 0 ? args.Select(int.Parse).ToArray() : [1_000, 100_000, 1_000_000];
        const int Claims = 2_000;
        await using var scratch = await ScratchCluster.StartAsync("claims");
        var grains = scratch.Grains;
        var queue = scratch.Orleans.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default);

        // Untimed: the first claims pay for JIT compilation and grain activation, which the 1k row would otherwise carry.
        for (var i = 0; i < Claims; i++)
        {
            await grains.Jobs.SubmitAsync(Job(shape: 0) with { Priority = 100 });
            _ = await grains.Jobs.ClaimAsync("bench-worker", "bench-machine", Worker, TimeSpan.FromMinutes(5)) ?? throw new InvalidOperationException("a matching job was not claimed");
        }

        Console.WriteLine($"claim cost vs backlog: 1 % of the backlog matches, 20 requirement shapes, {Claims} timed claims each");
        Console.WriteLine($"{"backlog",10} {"p50 µs",10} {"p99 µs",10} {"p50 ratio",10} {"p99 ratio",10}");
        (double P50, double P99)? baseline = null;
        foreach (var backlog in backlogs)
        {
            await FillAsync(queue, backlog);
            if (await queue.CountAsync() != backlog) throw new InvalidOperationException($"the queue holds {await queue.CountAsync()} jobs, not the backlog of {backlog}");
            var (p50, p99) = await TimeClaimsAsync(grains, Claims, _ => Job(shape: 0) with { Priority = 100 });
            baseline ??= (p50, p99);
            Console.WriteLine($"{backlog,10:N0} {p50,10:F0} {p99,10:F0} {p50 / baseline.Value.P50,10:F2} {p99 / baseline.Value.P99,10:F2}");
            await EmptyAsync(queue, backlog);
        }

        await FairSharingAsync(scratch, queue, Claims);
        return 0;
    }

    /// <summary>
    /// A claim's cost with the backlog spread over 100 tenants, against the same backlog of no tenant. The worker's
    /// 1 % are real jobs here (a fair turn may fall on any tenant's, and each must be assignable); each timed claim
    /// follows one untimed submission of the same kind, for a tenant in turn, so the backlog stays as it was.
    /// </summary>
    private static async Task FairSharingAsync(ScratchCluster scratch, IJobQueueGrain queue, int claims)
    {
        const int Backlog = 100_000, Tenants = 100;
        Console.WriteLine();
        Console.WriteLine($"fair sharing: a backlog of {Backlog:N0} over 100 tenants against the same backlog of no tenant, {claims} timed claims each");
        Console.WriteLine($"{"tenants",10} {"p50 µs",10} {"p99 µs",10} {"p50 ratio",10} {"p99 ratio",10}");
        (double P50, double P99)? baseline = null;
        foreach (var tenants in new[] { 0, Tenants })
        {
            string? TenantOf(int i) => tenants == 0 ? null : "u-bench-" + (i % tenants).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var matching = new List<int>();
            await FillAsync(queue, Backlog, TenantOf, matching);
            await Task.WhenAll(matching.Select(i => scratch.Grains.Jobs.SubmitAsync(Job(shape: 0) with { Tenant = TenantOf(i) })));
            if (await queue.CountAsync() != Backlog) throw new InvalidOperationException($"the queue holds {await queue.CountAsync()} jobs, not the backlog of {Backlog}");
            var (p50, p99) = await TimeClaimsAsync(scratch.Grains, claims, i => Job(shape: 0) with { Tenant = TenantOf(i) });
            baseline ??= (p50, p99);
            Console.WriteLine($"{(tenants == 0 ? "none" : tenants.ToString(System.Globalization.CultureInfo.InvariantCulture)),10} {p50,10:F0} {p99,10:F0} {p50 / baseline.Value.P50,10:F2} {p99 / baseline.Value.P99,10:F2}");
            while (await scratch.Grains.Jobs.ClaimAsync("bench-worker", "bench-machine", Worker, TimeSpan.FromMinutes(5)) is not null) { }
            await EmptyAsync(queue, Backlog);
        }
    }

    /// <summary>Times <paramref name="claims"/> claims, each after one untimed submission of <paramref name="next"/>(i); p50 and p99 in µs.</summary>
    private static async Task<(double P50, double P99)> TimeClaimsAsync(GrainFactory grains, int claims, Func<int, JobSubmission> next)
    {
        var timings = new double[claims];
        for (var i = 0; i < claims; i++)
        {
            await grains.Jobs.SubmitAsync(next(i));
            var started = Stopwatch.GetTimestamp();
            var claimed = await grains.Jobs.ClaimAsync("bench-worker", "bench-machine", Worker, TimeSpan.FromMinutes(5));
            timings[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            if (claimed is null) throw new InvalidOperationException("a matching job was not claimed");
        }
        Array.Sort(timings);
        return (timings[claims / 2], timings[(int)(claims * 0.99)]);
    }

    /// <summary>
    /// Puts the backlog in the queue, a window of calls at a time, 1 % of it of the shape the worker can serve. With
    /// <paramref name="tenantOf"/>, each entry is of its tenant; with <paramref name="matching"/>, the worker's 1 % are
    /// left out and their numbers listed there, for the caller to submit as real jobs.
    /// </summary>
    private static async Task FillAsync(IJobQueueGrain queue, int backlog, Func<int, string?>? tenantOf = null, List<int>? matching = null)
    {
        const int Window = 2_000;
        var inFlight = new List<Task>(Window);
        for (var i = 0; i < backlog; i++)
        {
            var shape = i % 100 == 0 ? 0 : 1 + i % 19;
            if (shape == 0 && matching is not null)
            {
                matching.Add(i);
                continue;
            }
            var job = Job(shape);
            inFlight.Add(queue.EnqueueAsync(new QueuedJob(BacklogId(i), job.Priority, Sequence: i, job.Requirements, tenantOf?.Invoke(i))));
            if (inFlight.Count == Window)
            {
                await Task.WhenAll(inFlight);
                inFlight.Clear();
            }
        }
        await Task.WhenAll(inFlight);
    }

    private static async Task EmptyAsync(IJobQueueGrain queue, int backlog)
    {
        for (var start = 0; start < backlog; start += 2_000)
            await Task.WhenAll(Enumerable.Range(start, Math.Min(2_000, backlog - start)).Select(i => queue.RemoveAsync(BacklogId(i))));
    }

    private static string BacklogId(int i) => "backlog-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static JobSubmission Job(int shape) => new()
    {
        Type = "text-to-image",
        Payload = new JsonObject { ["prompt"] = "benchmark" },
        Priority = shape % 7 * 10,
        Requirements = new JobRequirements { ModelType = "model-" + shape, Capabilities = ["text-to-image"] },
    };
}
