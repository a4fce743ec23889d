using System.Diagnostics;
using System.Globalization;
using Cluster.Grains.Redis;

namespace Cluster.Benchmarks;

/// <summary>
/// SET and GET throughput of the project's RESP client against redis-benchmark, the C client that ships
/// with Redis, on the same freshly started redis-server, with the same number of connections and the
/// same number of commands in flight per connection. Rounds alternate between the two so that both see
/// the same machine; the median round of each is compared.
/// </summary>
internal static class RedisClientBenchmark
{
    private const string Key = "key:__rand_int__"; // redis-benchmark's key when -r is not given
    private static readonly byte[] Value = "xxx"u8.ToArray(); // its default 3-byte value

    public static async Task<int> RunAsync(string[] args)
    {
        var connections = BenchmarkArgs.Option(args, "--connections", 4);
        var pipeline = BenchmarkArgs.Option(args, "--pipeline", 32);
        var requests = BenchmarkArgs.Option(args, "--requests", 1_000_000);
        var rounds = BenchmarkArgs.Option(args, "--rounds", 3);
        // "batches" does what redis-benchmark -P does: per connection, write `pipeline` commands, then await
        // their replies; "callers" runs `pipeline` independent callers per connection, each awaiting its own.
        var shape = args.Contains("--callers") ? "callers" : "batches";

        var directory = Path.Combine(Path.GetTempPath(), "cluster-benchmark-" + Guid.NewGuid().ToString("N")[..8]);
        await using var server = await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = false });
        try
        {
            var command = $"redis-benchmark -h 127.0.0.1 -p {server.Port} -c {connections} -P {pipeline} -n {requests} -t set,get -q --csv";
            Console.WriteLine($"redis-server {server.ConnectionString}; {Environment.ProcessorCount} cores; {rounds} rounds");
            Console.WriteLine($"peer: {command}");
            Console.WriteLine(shape == "batches"
                ? $"ours: {connections} RedisClient connections, each sending batches of {pipeline} commands and awaiting them together, {requests:N0} requests per command"
                : $"ours: {connections} RedisClient connections x {pipeline} concurrent callers each, {requests:N0} requests per command");

            var clients = new RedisClient[connections];
            for (var i = 0; i < connections; i++) clients[i] = await RedisClient.ConnectAsync(server.ConnectionString);
            // Warm up: tiered JIT reaches its optimised code, and the thread pool its working size.
            foreach (var test in new[] { "SET", "GET" }) _ = await RunOursAsync(clients, pipeline, requests, test, shape);

            var peer = new Dictionary<string, List<double>> { ["SET"] = [], ["GET"] = [] };
            var ours = new Dictionary<string, List<double>> { ["SET"] = [], ["GET"] = [] };
            var cpuPerOp = new Dictionary<string, List<double>> { ["SET"] = [], ["GET"] = [] };
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var (test, rps) in await RunRedisBenchmarkAsync(command)) peer[test].Add(rps);
                foreach (var test in new[] { "SET", "GET" })
                {
                    var (rps, cpu) = await RunOursAsync(clients, pipeline, requests, test, shape);
                    ours[test].Add(rps);
                    cpuPerOp[test].Add(cpu);
                }
                Console.WriteLine($"round {round}: redis-benchmark SET {peer["SET"][^1],10:N0}  GET {peer["GET"][^1],10:N0}   ours SET {ours["SET"][^1],10:N0}  GET {ours["GET"][^1],10:N0}  ops/s");
            }
            foreach (var client in clients) await client.DisposeAsync();

            Console.WriteLine();
            Console.WriteLine("| command | redis-benchmark ops/s (median) | RedisClient ops/s (median) | ratio of medians | median of per-round ratios | RedisClient CPU per op |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (var test in new[] { "SET", "GET" })
            {
                var (theirs, mine) = (BenchmarkArgs.Median(peer[test]), BenchmarkArgs.Median(ours[test]));
                var paired = BenchmarkArgs.Median(ours[test].Zip(peer[test], (o, p) => o / p).ToList());
                Console.WriteLine($"| {test} | {theirs:N0} | {mine:N0} | {mine / theirs:0.00} | {paired:0.00} | {BenchmarkArgs.Median(cpuPerOp[test]):0.00} µs |");
            }
            return 0;
        }
        finally
        {
            await server.DisposeAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Either batches of <paramref name="depth"/> per connection, or <paramref name="depth"/> independent callers per connection.</summary>
    private static async Task<(double OpsPerSecond, double CpuMicrosecondsPerOp)> RunOursAsync(RedisClient[] clients, int depth, int requests, string test, string shape)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        int operations;
        if (shape == "batches")
        {
            var batches = requests / (clients.Length * depth);
            await Task.WhenAll(clients.Select(client => BatchLoopAsync(client, test, depth, batches)));
            operations = batches * depth * clients.Length;
        }
        else
        {
            var perCaller = requests / (clients.Length * depth);
            var callers = new List<Task>(clients.Length * depth);
            foreach (var client in clients)
                for (var i = 0; i < depth; i++)
                    callers.Add(test == "SET" ? SetLoopAsync(client, perCaller) : GetLoopAsync(client, perCaller));
            await Task.WhenAll(callers);
            operations = perCaller * callers.Count;
        }
        var elapsed = stopwatch.Elapsed;
        return (operations / elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / operations);
    }

    /// <summary>What -P does, through the client's pipeline API: <paramref name="depth"/> commands sent together, one await for all replies.</summary>
    private static async Task BatchLoopAsync(RedisClient client, string test, int depth, int batches)
    {
        await Task.Yield();
        var command = test == "SET" ? new RedisCommand("SET", Key, Value) : new RedisCommand("GET", Key);
        var pipeline = Enumerable.Repeat(command, depth).ToArray();
        for (var b = 0; b < batches; b++) await client.ExecutePipelineAsync(pipeline);
    }

    private static async Task SetLoopAsync(RedisClient client, int count)
    {
        await Task.Yield();
        for (var i = 0; i < count; i++) await client.ExecuteAsync("SET", Key, Value);
    }

    private static async Task GetLoopAsync(RedisClient client, int count)
    {
        await Task.Yield();
        for (var i = 0; i < count; i++) await client.ExecuteAsync("GET", Key);
    }

    private static async Task<List<(string Test, double Rps)>> RunRedisBenchmarkAsync(string command)
    {
        var parts = command.Split(' ');
        var start = new ProcessStartInfo(parts[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var part in parts[1..]) start.ArgumentList.Add(part);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start redis-benchmark (Debian: apt-get install redis-tools)");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"redis-benchmark failed: {await process.StandardError.ReadToEndAsync()}");
        // "test","rps",... then one line per test: "SET","98765.43",...
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(',').Select(f => f.Trim('"', '\r')).ToArray())
            .Where(f => f[0] is "SET" or "GET")
            .Select(f => (f[0], double.Parse(f[1], CultureInfo.InvariantCulture)))
            .ToList();
    }
}
