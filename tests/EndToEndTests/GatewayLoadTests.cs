using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Cluster.Grains.Streams;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Seed 002's burst, not timed: 100 machines × 8 workers drive 2,000 jobs (10,000 job events) through a real silo's
/// API while 50 WebSocket subscribers with different filters follow it. Every subscriber must stay connected and
/// receive exactly the events its filter selects. The workers claim, report and complete over HTTP as polling
/// workers do, so the burst runs alike on either engine. Delivery latency and the silo's memory are printed for
/// docs/benchmarks.md, never asserted.
/// </summary>
public sealed class GatewayLoadTests
{
    private const string Key = "e2e-load-admin-key-0123456789abcdef";
    private const int Machines = 100, WorkersPerMachine = 8, Jobs = 2_000, Batch = 500;

    [Test]
    public async Task Fifty_subscribers_receive_every_event_of_a_ten_thousand_event_burst_that_their_filters_select()
    {
        await using var redis = await RedisFixture.StartAsync();
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings
        {
            BootstrapApiKey = Key, RedisConnectionString = redis.ConnectionString,
            Environment = new Dictionary<string, string>
            {
                // No lease may run out while 800 workers share two cores, and every request must be answered, not limited.
                ["Jobs__Lease"] = "00:05:00", ["Jobs__WorkerTimeout"] = "00:05:00", ["RateLimit__PermitsPerSecond"] = "0",
            },
        });
        var machines = Enumerable.Range(0, Machines).Select(m => $"load-m{m:D3}").ToArray();

        var filters = Enumerable.Range(0, 50).Select(i => i switch
        {
            < 10 => new JsonObject(),
            < 30 => new JsonObject { ["machine_ids"] = new JsonArray(machines.Skip((i - 10) * 5).Take(5).Select(m => (JsonNode)m!).ToArray()) },
            < 40 => new JsonObject { ["event_types"] = new JsonArray("job_completed") },
            _ => new JsonObject { ["event_types"] = new JsonArray("job_assigned", "job_progress"), ["machine_ids"] = new JsonArray(machines[i], machines[i + 50]) },
        }).ToArray();
        var subscribers = new List<Subscriber>();
        foreach (var filter in filters) subscribers.Add(await Subscriber.StartAsync(silo, filter));
        using var memory = new MemorySampler(silo.ProcessId);

        var started = Stopwatch.StartNew();
        var job = new JsonObject { ["type"] = "simulation", ["requirements"] = new JsonObject { ["capabilities"] = new JsonArray("load") } };
        for (var submitted = 0; submitted < Jobs; submitted += Batch)
            await PostAsync(silo, "/api/jobs/batch", new JsonObject { ["jobs"] = new JsonArray(Enumerable.Range(0, Batch).Select(_ => (JsonNode)job.DeepClone()).ToArray()) });
        await Task.WhenAll(machines.Select(machine => RunMachineAsync(silo, machine)));
        var burstSeconds = started.Elapsed.TotalSeconds;

        var events = await ReadBurstAsync(redis);
        Assert.That(events, Has.Count.EqualTo(Jobs * 5), "submitted, assigned, started, progress, completed per job");
        for (var i = 0; i < subscribers.Count; i++)
        {
            var expected = events.Where(e => Selects(filters[i], e)).Select(e => e.Id).ToArray();
            var received = await subscribers[i].WaitForAsync(expected.Length);
            Assert.That(received, Is.EqualTo(expected), $"subscriber {i} with filter {filters[i].ToJsonString()}");
            Assert.That(subscribers[i].Disconnected, Is.False);
        }

        var latencies = subscribers.SelectMany(s => s.LatenciesMs).Order().ToArray();
        var delivered = latencies.Length;
        TestContext.Out.WriteLine($"burst: {Jobs * 5:N0} job events in {burstSeconds:F1} s from {Machines * WorkersPerMachine} workers; " +
            $"{delivered:N0} deliveries to {subscribers.Count} subscribers");
        TestContext.Out.WriteLine($"delivery latency ms: p50 {latencies[delivered / 2]:F0}, p99 {latencies[(int)(delivered * 0.99)]:F0}, max {latencies[^1]:F0}");
        TestContext.Out.WriteLine($"silo memory (RSS): {memory.BaselineMb:F0} MB before, {memory.PeakMb:F0} MB peak");
        foreach (var s in subscribers) await s.DisposeAsync();
    }

    /// <summary>One machine's 8 workers each run jobs until the queue is empty: claim, report progress, complete.</summary>
    private static async Task RunMachineAsync(SiloProcess silo, string machine)
    {
        await Task.WhenAll(Enumerable.Range(0, WorkersPerMachine).Select(async g =>
        {
            var worker = new JsonObject
            {
                ["worker_id"] = $"{machine}-gpu{g}", ["machine_id"] = machine,
                ["capabilities"] = new JsonObject { ["gpu_memory"] = 24, ["capabilities"] = new JsonArray("load") },
            };
            while (await PostAsync(silo, "/api/internal/jobs/claim", worker.DeepClone()) is { } claim && claim["job"] is JsonObject assigned)
            {
                var id = ProtocolClient.Text(assigned["id"]);
                var lease = claim["lease_token"]!.DeepClone();
                await PostAsync(silo, $"/api/internal/jobs/{id}/progress", new JsonObject { ["lease_token"] = lease.DeepClone(), ["progress"] = 50 });
                await PostAsync(silo, $"/api/internal/jobs/{id}/complete", new JsonObject { ["lease_token"] = lease, ["result"] = new JsonObject { ["ok"] = true } });
            }
        }));
    }

    private static async Task<JsonObject> PostAsync(SiloProcess silo, string path, JsonNode body)
    {
        using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, path, Key,
            new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json")));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK), $"{path}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static Task<List<StreamEvent>> ReadBurstAsync(RedisFixture redis) => redis.Database.ReadStreamAsync("events:jobs");

    private static bool Selects(JsonObject filter, StreamEvent e) =>
        (filter["machine_ids"] is not JsonArray machines || machines.Any(m => m!.ToString() == e["machine_id"]))
        && (filter["event_types"] is not JsonArray types || types.Any(t => t!.ToString() == e.Type));

    private sealed class Subscriber : IAsyncDisposable
    {
        private readonly ProtocolClient _client;
        private readonly ConcurrentQueue<string> _received = new();
        private readonly Task _reading;
        private readonly CancellationTokenSource _stop = new();

        private Subscriber(ProtocolClient client)
        {
            _client = client;
            _reading = Task.Run(ReadAsync);
        }

        public List<double> LatenciesMs { get; } = [];
        public bool Disconnected { get; private set; }

        public static async Task<Subscriber> StartAsync(SiloProcess silo, JsonObject filter)
        {
            var client = await ProtocolClient.ConnectAsync(silo, Key);
            var reply = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = filter });
            Assert.That(ProtocolClient.Text(reply["type"]), Is.EqualTo("subscribed"), reply.ToJsonString());
            return new Subscriber(client);
        }

        private async Task ReadAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var frame = await _client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) is "event" or "lagged", TimeSpan.FromMinutes(2));
                    if (ProtocolClient.Text(frame["type"]) == "lagged")
                    {
                        Disconnected = true;
                        return;
                    }
                    var id = ProtocolClient.Text(frame["event_id"]);
                    StreamIds.TryParse(id, out var parsed);
                    lock (LatenciesMs) LatenciesMs.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - parsed.Ms);
                    _received.Enqueue(id);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception)
            {
                Disconnected = true;
            }
        }

        public async Task<string[]> WaitForAsync(int count)
        {
            await Eventually.HoldsAsync(() => Task.FromResult(_received.Count), n => n >= count || Disconnected, TimeSpan.FromSeconds(60));
            return [.. _received];
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _client.Abort();
            try { await _reading; } catch (Exception) { }
            await _client.DisposeAsync();
            _stop.Dispose();
        }
    }

    /// <summary>Samples the silo's resident memory from /proc while the burst runs.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly Timer _timer;
        private readonly int _pid;

        public MemorySampler(int pid)
        {
            _pid = pid;
            BaselineMb = Read();
            PeakMb = BaselineMb;
            _timer = new Timer(_ => PeakMb = Math.Max(PeakMb, Read()), null, 0, 50);
        }

        public double BaselineMb { get; }
        public double PeakMb { get; private set; }

        private double Read()
        {
            try
            {
                var line = File.ReadLines($"/proc/{_pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return 0; // the silo has exited
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
