using System.Globalization;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Benchmarks;

/// <summary>
/// What each step of a job costs redis-server, by its own account (INFO commandstats): N jobs are submitted,
/// then claimed, then completed through the grains, pipelined, and each phase's µs per FCALL is printed beside
/// an FCALL of an empty function, the floor any function call pays.
/// </summary>
public static class FunctionsBenchmark
{
    private static readonly WorkerCapabilities Worker = new() { Capabilities = ["bench"] };

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        await using var scratch = await ScratchRedis.StartAsync("functions");
        var (redis, grains) = (scratch.Client, scratch.Grains);
        var job = new JobSubmission { Type = "simulation", Payload = new JsonObject { ["type"] = "simulation" }, Requirements = new JobRequirements { Capabilities = ["bench"] } };

        var floor = await MeasureAsync(redis, "fcall_ro", jobs, _ => redis.ExecuteAsync("FCALL_RO", "cluster_version", 0));
        var ids = new string[jobs];
        var submit = await MeasureAsync(redis, "fcall", jobs, async i => ids[i] = (await grains.Jobs.SubmitAsync(job)).JobId);
        var tokens = new Dictionary<string, string>(jobs);
        var claim = await MeasureAsync(redis, "fcall", jobs, async _ =>
        {
            var assignment = await grains.Jobs.ClaimAsync("", "bench-machine", Worker, TimeSpan.FromMinutes(10)) ?? throw new InvalidOperationException("a job was not claimed");
            lock (tokens) tokens[assignment.Job.Id] = assignment.LeaseToken;
        });
        var complete = await MeasureAsync(redis, "fcall", jobs, async i =>
        {
            if (!await grains.Job(ids[i]).CompleteAsync(tokens[ids[i]], null)) throw new InvalidOperationException("a job was not completed");
        });

        Console.WriteLine($"redis-server time per function call, {jobs:N0} calls each (INFO commandstats)");
        Console.WriteLine($"{"function",-16} {"µs/call",8} {"× empty call",13}");
        foreach (var (name, usec) in new[] { ("empty function", floor), ("job_submit", submit), ("job_claim", claim), ("job_complete", complete) })
            Console.WriteLine($"{name,-16} {usec,8:F1} {usec / floor,13:F1}");
        Console.WriteLine($"{"a whole job",-16} {submit + claim + complete,8:F1}");
        return 0;
    }

    /// <summary>Runs <paramref name="call"/> <paramref name="count"/> times, 200 at a time, and returns Redis's µs per call of <paramref name="command"/>.</summary>
    private static async Task<double> MeasureAsync(RedisClient redis, string command, int count, Func<int, Task> call)
    {
        await redis.ExecuteAsync("CONFIG", "RESETSTAT");
        const int Window = 200;
        for (var start = 0; start < count; start += Window)
            await Task.WhenAll(Enumerable.Range(start, Math.Min(Window, count - start)).Select(call));
        var info = (await redis.ExecuteAsync("INFO", "commandstats")).ToString();
        var line = info.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith($"cmdstat_{command}:", StringComparison.Ordinal));
        var perCall = line.Split(',').Single(f => f.StartsWith("usec_per_call=", StringComparison.Ordinal));
        return double.Parse(perCall["usec_per_call=".Length..], CultureInfo.InvariantCulture);
    }
}
