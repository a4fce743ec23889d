using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests.Fuzz;

/// <summary>
/// Malformed frames on both WebSocket protocols (<c>/ws</c> and <c>/ws/worker</c>) of one real silo: every frame gets an
/// <c>error</c> frame, every connection stays open and still works afterwards, and the cluster holds what it held before.
/// </summary>
/// <remarks>
/// Each connection sends its frames one at a time and waits for the answer, so that an answer belongs to the frame before
/// it. Every frame is invalid by construction (see <see cref="MalformedJson"/>), or aims at a job that does not exist,
/// so none may be acknowledged. Text frames never carry invalid UTF-8: RFC 6455 has the socket close for that (1007),
/// which <see cref="Invalid_utf8_in_a_text_frame_closes_the_connection_with_1007"/> checks; binary frames do carry it.
/// </remarks>
public sealed class WebSocketFuzzTests
{
    private const string Key = "e2e-ws-fuzz-admin-key-0123456789abcdef";
    private const int GatewayConnections = 3;
    private const int FramesPerGatewayConnection = 900;
    private const int WorkerConnections = 3;
    private const int FramesPerWorkerConnection = 750;
    private const int FramesOnUnregisteredWorker = 400;
    private const string NobodysCapability = "fuzz-nobody-has-this";
    private static readonly TimeSpan AnswerDeadline = TimeSpan.FromSeconds(10);

    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = Key,
        Environment = new Dictionary<string, string>
        {
            // The fuzzed workers send no heartbeat while they are fuzzed; they must not lapse meanwhile.
            ["Jobs__WorkerTimeout"] = "00:10:00",
            ["RateLimit__PermitsPerSecond"] = "0",
        },
    });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private sealed record Frame(byte[] Bytes, WebSocketMessageType Kind, string What)
    {
        public override string ToString() =>
            $"{(Kind == WebSocketMessageType.Binary ? "binary" : "text")} frame, {What}: {MalformedJson.Shorten(Encoding.UTF8.GetString(Bytes))}";
    }

    [Test]
    public async Task Thousands_of_malformed_frames_get_error_frames_on_connections_that_stay_open_and_change_nothing()
    {
        var seed = FuzzSeed.Choose();
        var random = new Random(seed);
        var gateways = new List<(ProtocolClient Client, List<Frame> Frames)>();
        var workers = new List<(RawWorker Client, string WorkerId, List<Frame> Frames)>();
        try
        {
            for (var i = 0; i < GatewayConnections; i++)
            {
                var client = await ProtocolClient.ConnectAsync(_silo, Key);
                await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "welcome");
                gateways.Add((client, GatewayFrames(new Random(random.Next()), FramesPerGatewayConnection, tooLarge: i == 0)));
            }
            for (var i = 0; i <= WorkerConnections; i++)
            {
                var registered = i < WorkerConnections;
                var workerId = $"fuzz-worker-{i}-{seed}";
                var client = await RawWorker.ConnectAsync(_silo, Key);
                if (registered)
                {
                    var answer = await client.RegisterAsync(workerId, "fuzz-machine", RawWorker.Capabilities(NobodysCapability));
                    Assert.That(ProtocolClient.Text(answer["type"]), Is.EqualTo("registered"), answer.ToJsonString());
                }
                var count = registered ? FramesPerWorkerConnection : FramesOnUnregisteredWorker;
                workers.Add((client, workerId, WorkerFrames(new Random(random.Next()), count, workerId, registered, tooLarge: i == 0)));
            }
            var before = await StateAsync();
            var logMark = SiloErrors.Mark(_silo);

            var failures = new ConcurrentQueue<string>();
            var clock = Stopwatch.StartNew();
            await Task.WhenAll([
                .. gateways.Select((g, i) => FuzzAsync(g.Client, $"/ws #{i}", g.Frames, failures)),
                .. workers.Select((w, i) => FuzzAsync(w.Client, $"/ws/worker #{i}", w.Frames, failures)),
            ]);
            var total = gateways.Sum(g => g.Frames.Count) + workers.Sum(w => w.Frames.Count);
            TestContext.Out.WriteLine($"{total} frames ({gateways.Sum(g => g.Frames.Count)} on /ws, {workers.Sum(w => w.Frames.Count)} on /ws/worker) in {clock.Elapsed.TotalSeconds:0.0} s");

            foreach (var failure in failures) TestContext.Out.WriteLine(failure);
            Assert.That(failures, Is.Empty,
                $"{failures.Count} of {total} malformed frames were mishandled ({FuzzSeed.Describe(seed)}):\n" + string.Join("\n", failures.Take(25)));
            Assert.That(await StateAsync(), Is.EqualTo(before), $"the malformed frames changed the cluster ({FuzzSeed.Describe(seed)})");
            Assert.That(SiloErrors.Since(_silo, logMark), Is.Empty, $"the silo logged errors while refusing them ({FuzzSeed.Describe(seed)})");

            // Every connection still works: a ping, a heartbeat, and a first subscription or registration only now.
            foreach (var (client, _) in gateways)
            {
                var pong = await client.CommandAsync(new JsonObject { ["type"] = "ping" });
                var subscribed = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "silos" });
                Assert.That(ProtocolClient.Text(pong["type"]), Is.EqualTo("pong"), $"{pong.ToJsonString()} ({FuzzSeed.Describe(seed)})");
                Assert.That(ProtocolClient.Text(subscribed["subscription"]), Is.EqualTo("s1"),
                    $"no subscription was made before this one: {subscribed.ToJsonString()} ({FuzzSeed.Describe(seed)})");
            }
            foreach (var (client, workerId, _) in workers)
            {
                var answer = workers[^1].Client == client
                    ? await client.RegisterAsync(workerId, "fuzz-machine", RawWorker.Capabilities(NobodysCapability))
                    : await client.CommandAsync(new JsonObject { ["type"] = "heartbeat" });
                Assert.That(ProtocolClient.Text(answer["type"]), Is.EqualTo(workers[^1].Client == client ? "registered" : "ack"),
                    $"{answer.ToJsonString()} ({FuzzSeed.Describe(seed)})");
            }
        }
        finally
        {
            foreach (var (client, _) in gateways) await client.DisposeAsync();
            foreach (var (client, _, _) in workers) await client.DisposeAsync();
        }
    }

    /// <summary>Sends the frames one by one; each must be answered with an error frame before the next goes.</summary>
    private static async Task FuzzAsync(ProtocolClient client, string connection, List<Frame> frames, ConcurrentQueue<string> failures)
    {
        foreach (var frame in frames)
        {
            JsonObject answer;
            try
            {
                await client.SendRawAsync(frame.Bytes, frame.Kind);
                answer = await client.ReceiveAsync(f => !(ProtocolClient.Text(f["type"]) == "ping" && f["ack"] is null), AnswerDeadline);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                failures.Enqueue($"{connection}: no answer ({e.GetType().Name}: {e.Message}; socket {client.State}) to {frame}");
                return;
            }
            if (ErrorFrameProblem(answer) is { } problem) failures.Enqueue($"{connection}: {problem} in {answer.ToJsonString()} for {frame}");
        }
    }

    private static string? ErrorFrameProblem(JsonObject answer)
    {
        if (ProtocolClient.Text(answer["type"]) != "error") return "not an error frame";
        if (answer["error"]?["code"] is not JsonValue code || code.GetValueKind() != JsonValueKind.String || code.GetValue<string>().Length == 0) return "no error.code";
        if (code.GetValue<string>() == "INTERNAL_ERROR") return "an internal error";
        if (answer["error"]?["message"] is not JsonValue m || m.GetValueKind() != JsonValueKind.String || m.GetValue<string>().Length == 0) return "no error.message";
        return null;
    }

    /// <summary>The totals, and every worker and machine as the API shows them (without the times that pass on their own).</summary>
    private async Task<string> StateAsync()
    {
        async Task<JsonElement> Get(string path)
        {
            using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, path, Key));
            var body = await response.JsonAsync();
            Assert.That(response.IsSuccessStatusCode, Is.True, $"{path}: {body}");
            return body;
        }
        static string Field(JsonElement e, string name) => e.TryGetProperty(name, out var value) ? value.ToString() : "-";
        var stats = await Get("/api/stats?minutes=1");
        var workers = (await Get("/api/workers?limit=500")).GetProperty("workers").EnumerateArray().Select(w =>
            $"worker {Field(w, "id")} {Field(w, "machine_id")} {Field(w, "status")} {Field(w, "concurrency")} {Field(w, "active")} "
            + $"{Field(w, "current_job_id")} {Field(w, "capabilities")} {Field(w, "gpu_index")} {Field(w, "registered_at")}");
        var machines = (await Get("/api/machines?limit=500")).GetProperty("machines").EnumerateArray().Select(m =>
            $"machine {Field(m, "id")} {Field(m, "status")} {Field(m, "host")} {Field(m, "gpu_count")} workers {m.GetProperty("workers").GetArrayLength()}");
        return string.Join("\n", [
            $"jobs by status {stats.GetProperty("jobs")}", $"workers {stats.GetProperty("workers")}", $"machines {stats.GetProperty("machines")}",
            .. workers.Order(StringComparer.Ordinal), .. machines.Order(StringComparer.Ordinal),
        ]);
    }

    // ---- the frames ----

    private static List<Frame> GatewayFrames(Random random, int count, bool tooLarge)
    {
        var json = new MalformedJson(random);
        var frames = new List<Frame>(count);
        if (tooLarge) frames.Add(Padded("ping", 70_000, "larger than /ws takes (64 KiB)"));
        BodySpec[] specs = [Subscribe, SubscribeJob, Unsubscribe, GatewayPing];
        while (frames.Count < count) frames.Add(Next(random, json, specs[random.Next(specs.Length)]));
        return frames;
    }

    private static List<Frame> WorkerFrames(Random random, int count, string workerId, bool registered, bool tooLarge)
    {
        var json = new MalformedJson(random);
        var frames = new List<Frame>(count);
        if (tooLarge) frames.Add(Padded("heartbeat", 1024 * 1024 + 100, "larger than /ws/worker takes (1 MiB)"));
        BodySpec[] specs = [Register(workerId, registered), Heartbeat, Progress, Complete, Fail];
        while (frames.Count < count) frames.Add(Next(random, json, specs[random.Next(specs.Length)]));
        return frames;
    }

    /// <summary>A malformed frame; one in ten goes as a binary message, which may carry invalid UTF-8 too.</summary>
    private static Frame Next(Random random, MalformedJson json, BodySpec spec)
    {
        var binary = random.Next(10) == 0;
        var bytes = json.Next(spec, textOnly: !binary, out var what);
        return new(bytes, binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, what);
    }

    private static Frame Padded(string type, int size, string what) =>
        new(Encoding.UTF8.GetBytes($"{{\"v\":1,\"type\":\"{type}\",\"pad\":\"{new string('x', size)}\"}}"), WebSocketMessageType.Text, what);


    /// <summary>What every frame carries: the version, the type, the id.</summary>
    private static IEnumerable<FieldSpec> Envelope() =>
    [
        new("v", JsonKinds.Integer, false, "2", "0", "-1", "null"),
        new("type", JsonKinds.String, Required: true, "\"\"", "\"PING\"", "\"teleport\"", MalformedJson.Chars(100)),
        new("id", JsonKinds.String, false, MalformedJson.Chars(65)),
    ];

    private static IEnumerable<FieldSpec> Filter(string name) =>
        [new("filter." + name, JsonKinds.Array, false, "[5]", "[null]", MalformedJson.Repeat(501, "\"v\""), "[" + MalformedJson.Chars(129) + "]")];

    private static readonly BodySpec Subscribe = new("subscribe", () => new JsonObject
    {
        ["v"] = 1, ["type"] = "subscribe", ["id"] = "f", ["topic"] = "jobs", ["since"] = "0",
        ["filter"] = new JsonObject
        {
            ["job_id"] = "fuzz-job", ["workflow_id"] = "fuzz-workflow", ["machine_ids"] = new JsonArray("m"), ["job_types"] = new JsonArray("t"),
            ["event_types"] = new JsonArray("job_completed"),
        },
    },
    [
        .. Envelope(),
        new("topic", JsonKinds.String, Required: true, "\"bogus\"", "\"\"", "\"JOBS\""),
        new("filter", JsonKinds.Object),
        new("filter.job_id", JsonKinds.String, false, MalformedJson.Chars(129)),
        new("filter.workflow_id", JsonKinds.String, false, MalformedJson.Chars(129)),
        .. Filter("machine_ids"), .. Filter("job_types"), .. Filter("event_types"),
        new("since", JsonKinds.String, false, "\"abc\"", "\"1-\"", "\"-1\"", "\"1795320329064-x\"", "\"\"", "\"99999999999999999999999-0\""),
        new("job_id", JsonKinds.String),
    ]);

    private static readonly BodySpec SubscribeJob = new("subscribe_job", () => new JsonObject { ["v"] = 1, ["type"] = "subscribe_job", ["id"] = "f", ["job_id"] = "fuzz-job" },
    [
        .. Envelope(),
        new("job_id", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(129)),
    ]);

    /// <summary>An unsubscribe of a subscription the connection does not have: refused even when well formed.</summary>
    private static readonly BodySpec Unsubscribe = new("unsubscribe", () => new JsonObject { ["v"] = 1, ["type"] = "unsubscribe", ["id"] = "f", ["subscription"] = "s999999" },
    [
        .. Envelope(),
        new("subscription", JsonKinds.String, Required: true, "\"\"", "\"s1\"", "\"s0\""),
    ]);

    private static readonly BodySpec GatewayPing = new("ping", () => new JsonObject { ["v"] = 1, ["type"] = "ping", ["id"] = "f" }, [.. Envelope()]);

    private static BodySpec Register(string workerId, bool registered)
    {
        // A registered connection refuses any other worker id; an unregistered one would take it, so it is not sent there.
        string[] badIds = registered ? ["\"\"", MalformedJson.Chars(129), "\"fuzz-some-other-worker\""] : ["\"\"", MalformedJson.Chars(129)];
        return new("register", () => new JsonObject
        {
            ["v"] = 1, ["type"] = "register", ["id"] = "r", ["worker_id"] = workerId, ["machine_id"] = "fuzz-machine", ["host"] = "fuzz-host",
            ["gpu_count"] = 1, ["gpu_index"] = 0, ["concurrency"] = 1,
            ["capabilities"] = new JsonObject
            {
                ["gpu_memory"] = 24, ["model_types"] = new JsonArray("fuzz-model"), ["capabilities"] = new JsonArray(NobodysCapability), ["pool_type"] = "standard",
            },
        },
        [
            .. Envelope(),
            new("worker_id", JsonKinds.String, Required: true, badIds),
            new("machine_id", JsonKinds.String, Required: true, "\"unknown\"", "\"\"", MalformedJson.Chars(129)),
            new("host", JsonKinds.String),
            new("gpu_count", JsonKinds.Integer),
            new("gpu_index", JsonKinds.Integer),
            new("concurrency", JsonKinds.Integer, false, "0", "65", "-1"),
            new("capabilities", JsonKinds.Object),
            new("capabilities.gpu_memory", JsonKinds.Number),
            new("capabilities.model_types", JsonKinds.Array, false, "[5]", "[null]"),
            new("capabilities.capabilities", JsonKinds.Array, false, "[5]", "[null]"),
            new("capabilities.pool_type", JsonKinds.String),
        ]);
    }

    private static readonly BodySpec Heartbeat = new("heartbeat", () => new JsonObject { ["v"] = 1, ["type"] = "heartbeat", ["id"] = "h" }, [.. Envelope()]);

    /// <summary>The fields of a report about a job; the job does not exist, so even a well-formed report is refused.</summary>
    private static IEnumerable<FieldSpec> Report() =>
    [
        .. Envelope(),
        new("job_id", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(129)),
        new("lease_token", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(65)),
    ];

    private static JsonObject ReportTemplate(string type) => new()
    {
        ["v"] = 1, ["type"] = type, ["id"] = type[..1], ["job_id"] = "fuzz-no-such-job", ["lease_token"] = "fuzz-token",
    };

    private static readonly BodySpec Progress = new("progress", () =>
    {
        var frame = ReportTemplate("progress");
        frame["progress"] = 50;
        frame["message"] = "fuzz";
        return frame;
    },
    [
        .. Report(),
        new("progress", JsonKinds.Number, false, "null"),
        new("message", JsonKinds.String),
    ]);

    private static readonly BodySpec Complete = new("complete", () =>
    {
        var frame = ReportTemplate("complete");
        frame["result"] = new JsonObject { ["ok"] = true };
        return frame;
    }, [.. Report()]);

    private static readonly BodySpec Fail = new("fail", () =>
    {
        var frame = ReportTemplate("fail");
        frame["error"] = new JsonObject { ["code"] = "FUZZ", ["message"] = "fuzz" };
        frame["retryable"] = true;
        return frame;
    },
    [
        .. Report(),
        new("error", JsonKinds.Object, Required: true),
        new("error.code", JsonKinds.String),
        new("error.message", JsonKinds.String),
        new("retryable", JsonKinds.Boolean, false, "null"),
    ]);

    [TestCase("/ws")]
    [TestCase("/ws/worker")]
    public async Task Invalid_utf8_in_a_text_frame_closes_the_connection_with_1007(string path)
    {
        await using var client = await ProtocolClient.ConnectAsync(_silo, Key, path);

        await client.SendRawAsync([.. "{\"v\":1,\"type\":\"ping\",\"id\":\""u8, 0xC3, 0x28, .. "\"}"u8], WebSocketMessageType.Text);
        var status = await client.WaitForCloseAsync(TimeSpan.FromSeconds(10));

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidPayloadData));
        await using var next = await ProtocolClient.ConnectAsync(_silo, Key, path);
        var answer = await next.CommandAsync(new JsonObject { ["type"] = path == "/ws" ? "ping" : "heartbeat" });
        Assert.That(ProtocolClient.Text(answer["type"]), Is.EqualTo(path == "/ws" ? "pong" : "error"), "the silo still serves new connections");
    }

    [Test]
    public async Task An_unsubscribe_without_a_subscription_gets_an_error_frame_and_the_connection_stays_open()
    {
        await using var client = await ProtocolClient.ConnectAsync(_silo, Key);

        var missing = await client.CommandAsync(new JsonObject { ["type"] = "unsubscribe" });
        var nothing = await client.CommandAsync(new JsonObject { ["type"] = "unsubscribe", ["subscription"] = null });
        var pong = await client.CommandAsync(new JsonObject { ["type"] = "ping" });

        Assert.That(ProtocolClient.Text(missing["error"]?["code"]), Is.EqualTo("VALIDATION_ERROR"), missing.ToJsonString());
        Assert.That(ProtocolClient.Text(nothing["error"]?["code"]), Is.EqualTo("VALIDATION_ERROR"), nothing.ToJsonString());
        Assert.That(ProtocolClient.Text(pong["type"]), Is.EqualTo("pong"));
    }

    [Test]
    public async Task Null_or_missing_ids_lease_tokens_and_capabilities_get_error_frames_and_the_worker_connection_stays_open()
    {
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        var refusedRegistrations = new List<JsonObject>
        {
            await worker.CommandAsync(new JsonObject { ["type"] = "register", ["worker_id"] = null, ["machine_id"] = "fuzz-machine" }),
            await worker.CommandAsync(new JsonObject { ["type"] = "register", ["worker_id"] = "fuzz-null-machine", ["machine_id"] = null }),
            await worker.CommandAsync(new JsonObject
            {
                ["type"] = "register", ["worker_id"] = "fuzz-null-model", ["machine_id"] = "fuzz-machine",
                ["capabilities"] = new JsonObject { ["model_types"] = new JsonArray(null, "m") },
            }),
        };
        var registered = await worker.RegisterAsync("fuzz-nulls-" + Guid.NewGuid().ToString("N")[..8], "fuzz-machine", RawWorker.Capabilities(NobodysCapability));
        var refusedReports = new List<JsonObject>();
        foreach (var type in new[] { "complete", "fail", "progress" })
            foreach (var field in new[] { "job_id", "lease_token" })
            {
                var withNull = new JsonObject { ["type"] = type, ["job_id"] = "fuzz-no-such-job", ["lease_token"] = "fuzz-token", [field] = null };
                var without = new JsonObject { ["type"] = type, ["job_id"] = "fuzz-no-such-job", ["lease_token"] = "fuzz-token" };
                without.Remove(field);
                refusedReports.Add(await worker.CommandAsync(withNull));
                refusedReports.Add(await worker.CommandAsync(without));
            }
        var heartbeat = await worker.CommandAsync(new JsonObject { ["type"] = "heartbeat" });

        Assert.That(refusedRegistrations.Select(r => ProtocolClient.Text(r["error"]?["code"])), Is.All.EqualTo("VALIDATION_ERROR"),
            string.Join("\n", refusedRegistrations.Select(r => r.ToJsonString())));
        Assert.That(ProtocolClient.Text(registered["type"]), Is.EqualTo("registered"), registered.ToJsonString());
        Assert.That(refusedReports.Select(r => ProtocolClient.Text(r["error"]?["code"])), Is.All.EqualTo("VALIDATION_ERROR"),
            string.Join("\n", refusedReports.Select(r => r.ToJsonString())));
        Assert.That(ProtocolClient.Text(heartbeat["type"]), Is.EqualTo("ack"));
    }
}
