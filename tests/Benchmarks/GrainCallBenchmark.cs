using Cluster.Grains;
using System.Diagnostics;
using System.Globalization;
using Cluster.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

namespace Cluster.Benchmarks;

/// <summary>A grain that does nothing, so that a call costs only what the runtime (and its filters) add.</summary>
[Alias("Cluster.Benchmarks.INoOpGrain")]
public interface INoOpGrain : IGrainWithIntegerKey
{
    [Alias("PingAsync")]
    ValueTask PingAsync();
}

public sealed class NoOpGrain : Grain, INoOpGrain
{
    public ValueTask PingAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// What Microsoft.Orleans.Dashboard costs a grain call. An in-process silo (localhost clustering, nothing stored) takes
/// no-op calls from callers inside its own process (IGrainFactory from the host's services), each caller on a grain of
/// its own, in three conditions: without the dashboard; with it added but nobody looking (its filter only checks a
/// flag); and with it being watched (the filter times every call and counts it by grain and method, as while its page
/// is open; forced here with <see cref="GrainProfilerOptions.TraceAlways"/>).
/// <para>
/// Each condition is a silo in a process of its own (this program, <c>grain-calls-silo</c>), started and warmed up
/// once (5 s of calls); the rounds then give each process a burst of calls in turn, in a rotating order, so that all three see the
/// same moments of a shared machine. Separate processes, because Orleans' instruments are static: a dashboard in the
/// same process would listen to the other silos' calls too. Medians of the rounds are compared.
/// </para>
/// <para>
/// Like the project's silo, which collects Orleans' meter for <c>/metrics</c>, each silo here collects it through an
/// OpenTelemetry reader, so the ratio is what the dashboard adds to our silo. The dashboard reads that meter itself;
/// in a silo where nothing else does, it is the first to turn Orleans' instruments on: <c>--bare</c> measures that.
/// </para>
/// </summary>
internal static class GrainCallBenchmark
{
    private enum Dashboard { Off, Idle, Watched }

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = BenchmarkArgs.Option(args, "--calls", 200_000);
        var callers = BenchmarkArgs.Option(args, "--callers", 16);
        var rounds = BenchmarkArgs.Option(args, "--rounds", 10);
        var bare = args.Contains("--bare");
        Console.WriteLine($"{calls:N0} no-op grain calls per burst from {callers} concurrent callers inside each silo's process, "
            + $"{rounds} rounds, {Environment.ProcessorCount} cores; "
            + (bare ? "bare silos (nothing but the dashboard reads Orleans' meter)" : "Orleans' meter collected in every silo, as in the project's silo"));

        var conditions = Enum.GetValues<Dashboard>();
        var silos = new Dictionary<Dashboard, Process>();
        try
        {
            foreach (var condition in conditions)
            {
                silos[condition] = StartSilo(condition, callers, bare);
                // Ready once started and warmed up (untimed): tiered JIT has compiled the call path by then.
                await ExpectAsync(silos[condition], "ready");
            }

            var rates = conditions.ToDictionary(c => c, _ => new List<double>());
            var cpu = conditions.ToDictionary(c => c, _ => new List<double>());
            for (var round = 1; round <= rounds; round++)
            {
                var line = $"round {round,2}:";
                for (var i = 0; i < conditions.Length; i++)
                {
                    var condition = conditions[(i + round - 1) % conditions.Length];
                    await silos[condition].StandardInput.WriteLineAsync(calls.ToString(CultureInfo.InvariantCulture));
                    var answer = (await ExpectAsync(silos[condition], "done")).Split(' ');
                    var (perSecond, cpuMicroseconds) = (double.Parse(answer[1], CultureInfo.InvariantCulture), double.Parse(answer[2], CultureInfo.InvariantCulture));
                    rates[condition].Add(perSecond);
                    cpu[condition].Add(cpuMicroseconds);
                    line += $"  {Name(condition)} {perSecond,9:N0} calls/s ({cpuMicroseconds:0.0} µs CPU)";
                }
                Console.WriteLine(line);
            }

            var off = (Rate: BenchmarkArgs.Median(rates[Dashboard.Off]), Cpu: BenchmarkArgs.Median(cpu[Dashboard.Off]));
            Console.WriteLine();
            Console.WriteLine("| dashboard | calls/s (median) | ratio | silo CPU per call (median) | ratio |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var condition in conditions)
            {
                var (rate, perCall) = (BenchmarkArgs.Median(rates[condition]), BenchmarkArgs.Median(cpu[condition]));
                Console.WriteLine($"| {Name(condition)} | {rate:N0} | {rate / off.Rate:0.00} | {perCall:0.0} µs | {perCall / off.Cpu:0.00} |");
            }
            Console.WriteLine();
            Console.WriteLine($"ratio with dashboard / without: {BenchmarkArgs.Median(rates[Dashboard.Watched]) / off.Rate:0.00} (dashboard open)");
            Console.WriteLine($"ratio with dashboard / without: {BenchmarkArgs.Median(rates[Dashboard.Idle]) / off.Rate:0.00} (dashboard added, nobody looking)");
            return 0;
        }
        finally
        {
            foreach (var silo in silos.Values)
            {
                if (!silo.HasExited) silo.StandardInput.Close(); // end of input: the silo stops
                if (!silo.WaitForExit(TimeSpan.FromSeconds(15))) silo.Kill(entireProcessTree: true);
                silo.Dispose();
            }
        }
    }

    private static string Name(Dashboard condition) => condition switch
    {
        Dashboard.Off => "off",
        Dashboard.Idle => "on, idle",
        _ => "on, watched",
    };

    /// <summary>This program again, as <c>grain-calls-silo</c>, with its input and output piped.</summary>
    private static Process StartSilo(Dashboard condition, int callers, bool bare)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(GrainCallBenchmark).Assembly.Location);
        foreach (var arg in new[] { "grain-calls-silo", condition.ToString(), callers.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(arg);
        if (bare) start.ArgumentList.Add("--bare");
        return Process.Start(start) ?? throw new InvalidOperationException("could not start " + self);
    }

    /// <summary>The next line of the silo's output that starts with <paramref name="word"/>; anything else it prints is passed on.</summary>
    private static async Task<string> ExpectAsync(Process silo, string word)
    {
        while (true)
        {
            var line = await silo.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2))
                ?? throw new InvalidOperationException($"a silo (pid {silo.Id}) ended before it said '{word}'");
            if (line.StartsWith(word, StringComparison.Ordinal)) return line;
            Console.WriteLine($"silo {silo.Id}: {line}");
        }
    }

    /// <summary>
    /// The silo of one condition: starts, warms up, says <c>ready</c>, then for each number N on its input makes N calls
    /// and says <c>done &lt;calls/s&gt; &lt;CPU µs per call&gt;</c>; stops at the end of its input.
    /// </summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var dashboard = Enum.Parse<Dashboard>(args[0]);
        var callers = int.Parse(args[1], CultureInfo.InvariantCulture);
        var bare = args.Contains("--bare");

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // What Silo/Hosting/Telemetry.cs does for Orleans' meter; Prometheus' reader, too, aggregates as values are recorded.
        if (!bare) builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter("Microsoft.Orleans").AddReader(new BaseExportingMetricReader(new DiscardingExporter())));
        var id = "bench-grain-calls-" + Guid.NewGuid().ToString("N")[..8];
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort: FreePort.Take(), gatewayPort: FreePort.Take(), serviceId: id, clusterId: id);
            silo.Services.AddClusterSerializers();
            if (dashboard is Dashboard.Off) return;
            silo.AddDashboard();
            if (dashboard is Dashboard.Watched) silo.Services.Configure<GrainProfilerOptions>(options => options.TraceAlways = true);
        });
        using var host = builder.Build();
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        // Warm-up: at least 5 s of calls, then a pause, so that tiered JIT has compiled (and recompiled with its profile)
        // the call path, the dashboard's included, before anything is timed; a shorter one left the first bursts slower.
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed < TimeSpan.FromSeconds(5)) await CallAsync(grains, 50_000, callers);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Console.WriteLine("ready");

        var process = Process.GetCurrentProcess();
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var calls = int.Parse(line, CultureInfo.InvariantCulture);
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await CallAsync(grains, calls, callers);
            clock.Stop();
            process.Refresh();
            var cpuMicroseconds = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / calls;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {calls / clock.Elapsed.TotalSeconds:F0} {cpuMicroseconds:F2}"));
        }
        await host.StopAsync();
        return 0;
    }

    /// <summary><paramref name="callers"/> callers, each awaiting one call before the next on its own grain, until <paramref name="calls"/> are done.</summary>
    private static Task CallAsync(IGrainFactory grains, int calls, int callers)
    {
        var left = calls;
        return Task.WhenAll(Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            var grain = grains.GetGrain<INoOpGrain>(caller);
            while (Interlocked.Decrement(ref left) >= 0) await grain.PingAsync();
        })));
    }

    private sealed class DiscardingExporter : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch) => ExportResult.Success;
    }
}
