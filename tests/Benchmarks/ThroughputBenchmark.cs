using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Client.Api;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Testing;

namespace Cluster.Benchmarks;

/// <summary>
/// End to end, submit → claim → complete: N no-op jobs submitted over HTTP in batches of 1,000 to a real
/// silo, pushed to 32 workers on WebSockets, each completing at once. The peer is BullMQ on the same
/// redis-server with the same concurrency (32), its jobs added in bulk too. Prints jobs/s of both and the ratio.
/// Each side first runs an untimed round of warm-up jobs the same way, so that the timed round measures
/// running code rather than .NET's and V8's JIT compilers.
/// </summary>
public static class ThroughputBenchmark
{
    private const string Key = "bench-throughput-key-0123456789abcdef";

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var workers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;
        // The silo's tiered JIT settles only after about 20,000 jobs; fewer leave part of the warm-up in the timed round.
        var warmup = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
        await using var redis = await RedisFixture.StartAsync();
        var run = await RunClusterAsync(redis, jobs, warmup, workers);
        var (ours, ourCpu) = (run.Seconds, run.RedisCpu);
        await redis.FlushAsync();
        var cpu = await RedisCpuSecondsAsync(redis);
        var peer = await RunBullMqAsync(redis.Server.Port, jobs, warmup, workers);
        // BullMQ's warm-up runs in the same process, so its Redis CPU is averaged over both rounds.
        var peerCpu = (await RedisCpuSecondsAsync(redis) - cpu) * jobs / (jobs + warmup);
        Console.WriteLine($"{"",-28} {"jobs",8} {"seconds",8} {"jobs/s",10} {"redis µs/job",13}");
        Console.WriteLine($"{"Cluster (HTTP + " + workers + " WS)",-28} {jobs,8} {ours,8:F2} {jobs / ours,10:N0} {ourCpu * 1e6 / jobs,13:F0}");
        if (peer is { } bull)
        {
            Console.WriteLine($"{"BullMQ (same redis-server)",-28} {jobs,8} {bull,8:F2} {jobs / bull,10:N0} {peerCpu * 1e6 / jobs,13:F0}");
            Console.WriteLine($"ratio Cluster / BullMQ: {bull / ours:F2}");
        }
        Console.WriteLine($"\nCPU per job in Cluster's timed round: redis-server {ourCpu * 1e6 / jobs:F0} µs, silo {run.SiloCpu * 1e6 / jobs:F0} µs, " +
            $"workers and HTTP client (this process) {run.ClientCpu * 1e6 / jobs:F0} µs");
        // EVALSHA's time (a grain's outbox write) includes the commands its script calls, which Redis also counts under their own names.
        // Redis times commands by the clock, so on a busy machine these include time it was not running.
        Console.WriteLine($"\ntime inside redis-server's commands in Cluster's timed round (INFO commandstats), µs per job:");
        foreach (var (command, calls, usec) in run.Commands.Take(10))
            Console.WriteLine($"  {command,-14} {usec / jobs,8:F1}  ({calls:N0} calls)");
        return 0;
    }

    /// <summary>Each command's calls and total µs since the last CONFIG RESETSTAT, most time first.</summary>
    private static async Task<List<(string Command, long Calls, double Usec)>> CommandTimesAsync(RedisFixture redis)
    {
        var info = (await redis.Database.ExecuteAsync("INFO", "commandstats")).ToString();
        var rows = new List<(string, long, double)>();
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal)))
        {
            // cmdstat_evalsha:calls=30022,usec=3272000,usec_per_call=108.99,…
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var values = line[(colon + 1)..].Split(',').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            rows.Add((line["cmdstat_".Length..colon], long.Parse(values["calls"], CultureInfo.InvariantCulture), double.Parse(values["usec"], CultureInfo.InvariantCulture)));
        }
        return rows.OrderByDescending(r => r.Item3).ToList();
    }

    /// <summary>The timed round: its seconds, the CPU seconds redis-server, the silo and this process spent in it, and Redis's commands in it.</summary>
    private sealed record ClusterRun(double Seconds, double RedisCpu, double SiloCpu, double ClientCpu, List<(string Command, long Calls, double Usec)> Commands);

    private static async Task<ClusterRun> RunClusterAsync(RedisFixture redis, int jobs, int warmup, int workers)
    {
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings
        {
            BootstrapApiKey = Key, RedisConnectionString = redis.ConnectionString,
            Environment = new Dictionary<string, string> { ["RateLimit__PermitsPerSecond"] = "0", ["Serilog__MinimumLevel__Default"] = "Warning" },
        });
        var round = new Round(0);
        using var stop = new CancellationTokenSource();
        var connections = new List<WorkerConnection>();
        var loops = new List<Task>();
        for (var i = 0; i < workers; i++)
        {
            var connection = new WorkerConnection(silo.BaseAddress, Key);
            await connection.ConnectAsync(new RegisterFrame { WorkerId = $"bench-w{i}", MachineId = $"bench-m{i / 8}", Capabilities = new() { Capabilities = ["bench"] } });
            connections.Add(connection);
            loops.Add(Task.Run(async () =>
            {
                await foreach (var frame in connection.Pushes.ReadAllAsync(stop.Token))
                {
                    if (frame is not JobAssignedFrame assigned) continue;
                    await connection.CompleteAsync(assigned.Job.Id, assigned.LeaseToken, null, stop.Token);
                    Volatile.Read(ref round).Completed();
                }
            }));
        }

        using var http = new HttpClient { BaseAddress = silo.BaseAddress };
        http.DefaultRequestHeaders.Add("x-api-key", Key);
        var job = new JsonObject { ["type"] = "simulation", ["requirements"] = new JsonObject { ["capabilities"] = new JsonArray("bench") } };
        async Task RunRoundAsync(int count)
        {
            Volatile.Write(ref round, new Round(count));
            for (var i = 0; i < count; i += 1000)
            {
                var batch = new JsonArray(Enumerable.Range(0, Math.Min(1000, count - i)).Select(_ => (JsonNode)job.DeepClone()).ToArray());
                using var response = await http.PostAsJsonAsync("/api/jobs/batch", new JsonObject { ["jobs"] = batch });
                response.EnsureSuccessStatusCode();
            }
            await round.Done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        }

        if (warmup > 0) await RunRoundAsync(warmup);
        using var siloProcess = Process.GetProcessById(silo.ProcessId);
        using var self = Process.GetCurrentProcess();
        var (siloCpu, clientCpu, cpu) = (siloProcess.TotalProcessorTime, self.TotalProcessorTime, await RedisCpuSecondsAsync(redis));
        await redis.Database.ExecuteAsync("CONFIG", "RESETSTAT");
        // On stderr, so that a profiler can be started on the timed round alone; the results on stdout keep their format.
        Console.Error.WriteLine($"Cluster's timed round: {jobs} jobs, silo pid {silo.ProcessId}");
        var started = Stopwatch.StartNew();
        await RunRoundAsync(jobs);
        var seconds = started.Elapsed.TotalSeconds;
        var run = new ClusterRun(seconds, await RedisCpuSecondsAsync(redis) - cpu,
            (siloProcess.TotalProcessorTime - siloCpu).TotalSeconds, (self.TotalProcessorTime - clientCpu).TotalSeconds, await CommandTimesAsync(redis));
        await stop.CancelAsync();
        foreach (var connection in connections) await connection.DisposeAsync();
        try { await Task.WhenAll(loops); } catch (OperationCanceledException) { }
        return run;
    }

    /// <summary>One round of jobs: done when as many completions as jobs have come back.</summary>
    private sealed class Round(int jobs)
    {
        private int _completed;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Completed()
        {
            if (Interlocked.Increment(ref _completed) == jobs) Done.TrySetResult();
        }
    }

    /// <summary>CPU time redis-server has used so far (user + system), from INFO cpu.</summary>
    private static async Task<double> RedisCpuSecondsAsync(RedisFixture redis)
    {
        var info = (await redis.Database.ExecuteAsync("INFO", "cpu")).ToString();
        return info.Split('\n').Select(l => l.Trim().Split(':')).Where(p => p.Length == 2 && p[0] is "used_cpu_user" or "used_cpu_sys")
            .Sum(p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Runs tests/Benchmarks/bullmq/throughput.mjs (installing bullmq from npm the first time); null if Node is missing.</summary>
    private static async Task<double?> RunBullMqAsync(int port, int jobs, int warmup, int concurrency)
    {
        var folder = Path.Combine(RepositoryRoot.Path, "tests", "Benchmarks", "bullmq");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "bullmq")))
        {
            Console.Error.WriteLine("installing bullmq for the peer run (npm install) …");
            if (await RunAsync("npm", folder, "install", "--no-audit", "--no-fund", "--silent") is null) return null;
        }
        var output = await RunAsync("node", folder, ["throughput.mjs", .. new[] { port, jobs, concurrency, warmup }.Select(n => n.ToString(CultureInfo.InvariantCulture))]);
        return output is null ? null : JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.GetProperty("seconds").GetDouble();
    }

    private static async Task<string?> RunAsync(string program, string folder, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = folder, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode == 0) return output;
            Console.Error.WriteLine($"{program} {string.Join(' ', args)} exited with {process.ExitCode}");
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"{program} is not installed; the peer run is skipped");
            return null;
        }
    }
}
