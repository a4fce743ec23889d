using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests.Fuzz;

/// <summary>
/// Malformed HTTP requests against every route of docs/api.md on one real silo, with an admin key: none may be answered
/// with a 5xx, every 4xx carries <c>{success:false, error:{code, message}}</c>, and afterwards the cluster holds exactly
/// what it held before.
/// </summary>
/// <remarks>
/// How routes that change state are fuzzed without changing it: a body route gets only bodies that are invalid by
/// construction (a valid template with one checked field given a value its rules refuse, a required field left out,
/// or the whole document broken: truncated, not an object, bad syntax, too deep, invalid UTF-8, lone surrogates), so
/// every one of them must be refused whatever route it reaches. Routes whose well-formed use needs no body
/// (<c>cancel</c>, <c>retry</c>, <c>DELETE /api/keys/{id}</c>) are sent unknown ids only, since with a known id
/// their malformed form (a junk body) would be valid. <c>DELETE /api/session</c> is left out: without a session
/// cookie it is always a harmless 200, so it has no malformed form. Every route also gets every method it does not
/// take; handlers never run for those, so known ids are safe there.
/// </remarks>
public sealed class HttpFuzzTests
{
    private const string Key = "e2e-http-fuzz-admin-key-0123456789abcdef";
    private const int Requests = 2_400;
    private const int Concurrency = 8;
    private const string NobodysCapability = "fuzz-nobody-has-this";

    private static readonly HttpMethod[] Methods = [HttpMethod.Get, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch];

    /// <summary>
    /// Content types sent now and then instead of JSON's. None names a charset other than UTF-8: the minimal-API routes
    /// (<c>/api/keys</c>, <c>/api/session</c>) honour one, and in Latin-1 every byte sequence is valid text.
    /// </summary>
    private static readonly string?[] ContentTypes =
    [
        "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=fuzz",
        "application/xml", null, "application/octet-stream",
    ];

    private SiloProcess _silo = null!;
    private string _job = null!;
    private string _workflow = null!;

    [OneTimeSetUp]
    public async Task StartSilo()
    {
        _silo = await SiloProcess.StartReadyAsync(new SiloSettings
        {
            BootstrapApiKey = Key,
            // Thousands of requests in seconds from one key: the rate limiter is not what this test is about.
            Environment = new Dictionary<string, string> { ["RateLimit__PermitsPerSecond"] = "0" },
        });
        // Something to aim at: a job no worker can take, and a workflow of two steps.
        _job = await _silo.SubmitAsync(Key, new { type = "simulation", requirements = new { capabilities = new[] { NobodysCapability } } });
        using var created = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/workflows/create", Key, JsonContent.Create(new
        {
            name = "fuzz target",
            steps = new object[]
            {
                new { type = "simulation", requirements = new { capabilities = new[] { NobodysCapability } } },
                new { type = "simulation", depends_on = 0 },
            },
        })));
        var body = await created.JsonAsync();
        Assert.That(created.IsSuccessStatusCode, Is.True, body.ToString());
        _workflow = body.GetProperty("workflow_id").GetString()!;
    }

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    [Test]
    public async Task Thousands_of_malformed_requests_get_4xx_errors_in_the_error_shape_and_change_nothing()
    {
        var seed = FuzzSeed.Choose();
        var requests = Generate(new Random(seed));
        var before = await StateAsync();
        var logMark = SiloErrors.Mark(_silo);

        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (request, _) =>
        {
            var (status, problem) = await SendAsync(request);
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (problem is not null) failures.Enqueue(problem);
        });
        TestContext.Out.WriteLine($"{requests.Count} requests in {clock.Elapsed.TotalSeconds:0.0} s; statuses: "
            + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}")));

        foreach (var failure in failures) TestContext.Out.WriteLine(failure);
        Assert.That(failures, Is.Empty,
            $"{failures.Count} of {requests.Count} malformed requests were mishandled ({FuzzSeed.Describe(seed)}):\n" + string.Join("\n", failures.Take(25)));
        Assert.That(await StateAsync(), Is.EqualTo(before), $"the malformed requests changed the cluster ({FuzzSeed.Describe(seed)})");
        Assert.That(SiloErrors.Since(_silo, logMark), Is.Empty, $"the silo logged errors while refusing them ({FuzzSeed.Describe(seed)})");
    }

    // What probing found, each on its own: the fuzz test above finds them too, but these name them.

    [TestCase("/api/jobs/submit", "{\"type\":\"", "\"}")]
    [TestCase("/api/jobs/submit", "{\"type\":\"simulation\",\"note\":\"", "\"}")]
    [TestCase("/api/jobs/batch", "{\"jobs\":[{\"type\":\"", "\"}]}")]
    [TestCase("/api/workflows/create", "{\"name\":\"", "\",\"steps\":[{\"type\":\"simulation\"}]}")]
    [TestCase("/api/workflows/create", "{\"name\":\"w\",\"steps\":[{\"type\":\"simulation\",\"note\":\"", "\"}]}")]
    [TestCase("/api/internal/jobs/fuzz-no-such-job/progress", "{\"progress\":5,\"message\":\"", "\"}")]
    [TestCase("/api/internal/jobs/claim", "{\"worker_id\":\"", "\"}")]
    [TestCase("/api/internal/workflows/fuzz-no-such-workflow/job-completed", "{\"job_id\":\"", "\"}")]
    public async Task Invalid_utf8_inside_a_json_string_is_a_400_validation_error_and_stores_nothing(string path, string before, string after)
    {
        var state = await StateAsync();

        using var response = await PostAsync(path, [.. Encoding.UTF8.GetBytes(before), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(after)]);

        await response.AssertErrorAsync(System.Net.HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That(await StateAsync(), Is.EqualTo(state));
    }

    [TestCase("/api/jobs/submit", "{\"type\":\"\\ud800\"}")]
    [TestCase("/api/jobs/submit", "{\"type\":\"simulation\",\"note\":\"a\\udc00\"}")]
    [TestCase("/api/jobs/submit", "{\"type\":\"simulation\",\"\\ud800\":1}")]
    [TestCase("/api/jobs/submit", "{\"type\":\"simulation\",\"type\":\"simulation\"}")]
    [TestCase("/api/workflows/create", "{\"name\":\"w\",\"name\":\"w\",\"steps\":[{\"type\":\"simulation\"}]}")]
    [TestCase("/api/keys", "{\"name\":\"\\ud800\",\"scopes\":[\"monitor\"]}")]
    public async Task Lone_surrogate_escapes_and_repeated_names_are_a_400_validation_error(string path, string body)
    {
        var state = await StateAsync();

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes(body));

        var answer = await response.JsonAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(400), answer.ToString());
        Assert.That(answer.GetProperty("success").GetBoolean(), Is.False);
        Assert.That(await StateAsync(), Is.EqualTo(state));
    }

    [TestCase("/api/jobs/submit")]
    [TestCase("/api/jobs/batch")]
    [TestCase("/api/workflows/create")]
    [TestCase("/api/internal/jobs/fuzz-no-such-job/progress")]
    [TestCase("/api/internal/jobs/fuzz-no-such-job/complete")]
    [TestCase("/api/internal/jobs/fuzz-no-such-job/fail")]
    [TestCase("/api/internal/jobs/claim")]
    [TestCase("/api/internal/workflows/fuzz-no-such-workflow/job-completed")]
    public async Task A_body_that_is_an_empty_array_is_a_400_validation_error(string path)
    {
        using var response = await PostAsync(path, "[]"u8.ToArray());

        await response.AssertErrorAsync(System.Net.HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Test]
    public async Task A_body_that_starts_with_a_byte_order_mark_is_still_read()
    {
        using var response = await PostAsync("/api/jobs/submit",
            [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes($"{{\"type\":\"simulation\",\"requirements\":{{\"capabilities\":[\"{NobodysCapability}\"]}}}}")]);

        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> PostAsync(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        return _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, path, Key, content));
    }

    private sealed record FuzzRequest(HttpMethod Method, string Path, byte[]? Body, string? ContentType, bool MustRefuse, string What)
    {
        public override string ToString() =>
            $"{Method} {Path} [{ContentType ?? "no content type"}] {What}"
            + (Body is null ? "" : $" body: {MalformedJson.Shorten(Encoding.UTF8.GetString(Body))}");
    }

    /// <summary>The answer's status, and what is wrong with it, if anything.</summary>
    private async Task<(int Status, string? Problem)> SendAsync(FuzzRequest request)
    {
        using var message = new HttpRequestMessage(request.Method, new Uri(request.Path, UriKind.Relative));
        message.Headers.Add("x-api-key", Key);
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(request.Body);
            if (request.ContentType is not null) message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
        }
        try
        {
            using var response = await _silo.Http.SendAsync(message);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            if (status >= 500) return (status, $"{status} for {request}: {MalformedJson.Shorten(text)}");
            if (status >= 400) return (status, ErrorShapeProblem(text) is { } shape ? $"{status} without the error shape ({shape}) for {request}: {MalformedJson.Shorten(text)}" : null);
            return (status, request.MustRefuse ? $"{status} (accepted) for {request}: {MalformedJson.Shorten(text)}" : null);
        }
        catch (HttpRequestException e)
        {
            return (0, $"no answer ({e.Message}) for {request}");
        }
    }

    private static string? ErrorShapeProblem(string text)
    {
        try
        {
            var body = JsonNode.Parse(text);
            if (body?["success"] is not JsonValue success || success.GetValueKind() != JsonValueKind.False) return "success is not false";
            if (body["error"]?["code"] is not JsonValue code || code.GetValueKind() != JsonValueKind.String || code.GetValue<string>().Length == 0) return "no error.code";
            if (body["error"]?["message"] is not JsonValue m || m.GetValueKind() != JsonValueKind.String || m.GetValue<string>().Length == 0) return "no error.message";
            return null;
        }
        catch (JsonException)
        {
            return "not JSON";
        }
    }

    /// <summary>What the cluster holds, as text: the totals, every job, workflow and key. Equal before and after, or something changed.</summary>
    private async Task<string> StateAsync()
    {
        async Task<JsonElement> Get(string path)
        {
            using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, path, Key));
            var body = await response.JsonAsync();
            Assert.That(response.IsSuccessStatusCode, Is.True, $"{path}: {body}");
            return body;
        }
        var stats = await Get("/api/stats?minutes=1");
        var jobs = (await Get("/api/jobs?limit=500")).GetProperty("jobs").EnumerateArray()
            .Select(j => $"job {Field(j, "id")} {Field(j, "status")} {Field(j, "progress")} retries {Field(j, "retry_count")} attempts {Field(j, "attempts")} {Field(j, "result")}");
        var workflows = (await Get("/api/workflows?limit=500")).GetProperty("workflows").EnumerateArray()
            .Select(w => $"workflow {Field(w, "id")} {Field(w, "status")} {Field(w, "completed_steps")}/{Field(w, "total_steps")} failed {Field(w, "failed_steps")}");
        var keys = (await Get("/api/keys")).GetProperty("keys").EnumerateArray().Select(k => $"key {k.GetProperty("id")}").Order(StringComparer.Ordinal);
        var events = (await Get($"/api/jobs/{_job}/events")).GetProperty("events").GetArrayLength();
        return string.Join("\n", [
            $"jobs by status {stats.GetProperty("jobs")}", $"workers {stats.GetProperty("workers")}", $"machines {stats.GetProperty("machines")}",
            .. jobs, .. workflows, .. keys, $"events of {_job}: {events}",
        ]);
    }

    private static string Field(JsonElement element, string name) => element.TryGetProperty(name, out var value) ? value.ToString() : "-";

    private List<FuzzRequest> Generate(Random random)
    {
        var json = new MalformedJson(random);
        var requests = new List<FuzzRequest>();

        // Every route with every method it does not take.
        foreach (var (path, methods) in Routes())
            foreach (var method in Methods.Except(methods))
                requests.Add(new(method, path, random.Next(2) == 0 ? null : json.Next(Submit(random), textOnly: false, out _), "application/json",
                    MustRefuse: path != "/metrics", "a method the route does not take"));

        var bodyRoutes = BodyRoutes();
        while (requests.Count < Requests)
        {
            var roll = random.Next(100);
            if (roll < 70)
            {
                var (path, spec) = bodyRoutes[random.Next(bodyRoutes.Length)];
                var body = json.Next(spec(random), textOnly: false, out var what);
                requests.Add(new(HttpMethod.Post, path, body, random.Next(4) == 0 ? Pick(random, ContentTypes) : "application/json", MustRefuse: true, what));
            }
            else if (roll < 85) requests.Add(UnknownTarget(random));
            else requests.Add(BadQuery(random));
        }
        return requests;
    }

    private (string Path, HttpMethod[] Methods)[] Routes()
    {
        HttpMethod[] get = [HttpMethod.Get], post = [HttpMethod.Post];
        return
        [
            ("/api/jobs/submit", post), ("/api/jobs/batch", post), ("/api/jobs", get),
            ($"/api/jobs/{_job}/status", get), ($"/api/jobs/{_job}/events", get), ($"/api/jobs/{_job}/webhooks", get),
            ($"/api/jobs/{_job}/cancel", post), ($"/api/jobs/{_job}/retry", post),
            ($"/api/internal/jobs/{_job}/progress", post), ($"/api/internal/jobs/{_job}/complete", post), ($"/api/internal/jobs/{_job}/fail", post),
            ("/api/workflows/create", post), ("/api/workflows", get), ($"/api/workflows/{_workflow}/status", get),
            ($"/api/workflows/{_workflow}/webhooks", get), ($"/api/workflows/{_workflow}/cancel", post),
            ($"/api/workflows/{_workflow}/steps/0/retry", post), ($"/api/internal/workflows/{_workflow}/job-completed", post),
            ("/api/stats", get), ("/api/workers", get), ("/api/machines", get), ("/api/machines/fuzz-no-such-machine", get), ("/api/silos", get),
            ("/api/job-types", get), ("/api/webhooks/secret", get), ("/api/whoami", get),
            ("/api/keys", [HttpMethod.Get, HttpMethod.Post]), ("/api/keys/fuzz-no-such-key", [HttpMethod.Delete]),
            ("/api/session", [HttpMethod.Post, HttpMethod.Delete]),
            ("/api/auth/register", post), ("/api/auth/login", post), ("/api/auth/logout", post), ("/api/auth/invitations", post),
            ("/api/users", get), ("/api/users/fuzz-no-such-user/disable", post), ("/api/usage", get), ("/api/usage/tenants", get), ("/api/discovery", get),
            // Prometheus' scraping endpoint answers any method; a scrape changes nothing, so a 200 is not refused here.
            ("/metrics", get),
            ("/api/no-such-route", []), ("/api/jobs/a/b/c", []),
        ];
    }

    private (string Path, Func<Random, BodySpec> Spec)[] BodyRoutes()
    {
        var unknown = "fuzz-no-such-" + Guid.NewGuid().ToString("N")[..8];
        return
        [
            ("/api/jobs/submit", Submit), ("/api/jobs/batch", _ => Batch), ("/api/workflows/create", _ => Workflow),
            ($"/api/internal/jobs/{_job}/progress", _ => Progress), ($"/api/internal/jobs/{unknown}/progress", _ => Progress),
            ($"/api/internal/jobs/{_job}/complete", _ => Complete), ($"/api/internal/jobs/{unknown}/complete", _ => Complete),
            ($"/api/internal/jobs/{_job}/fail", _ => Fail), ($"/api/internal/jobs/{unknown}/fail", _ => Fail),
            ($"/api/internal/workflows/{_workflow}/job-completed", _ => JobCompleted), ($"/api/internal/workflows/{unknown}/job-completed", _ => JobCompleted),
            ("/api/keys", _ => ApiKey), ("/api/session", _ => Session),
            ("/api/auth/register", _ => Register), ("/api/auth/login", _ => Login),
        ];
    }

    /// <summary>
    /// Ids nothing has, written as they go into a path: odd characters, escapes of invalid UTF-8, very long. Not
    /// <c>%00</c>: Kestrel refuses a path with a NUL with a bare 400 before the silo sees the request.
    /// </summary>
    private static readonly string[] UnknownIds =
    [
        "%FF%FE", "%C3%28", "%20", "%D0%B7%D0%B0%D0%B4%D0%B0%D1%87%D0%B0", "a%2Fb", "%F0%9F%99%82", "%ED%A0%80", "null", "-1", "0",
        "%27%20OR%201%3D1%20--", "%7B%7D", "%22%22", new string('x', 300), "fuzz-" + new string('9', 40),
    ];

    private static readonly string[] StepIndexes = ["0", "1", "-1", "abc", "99", "99999999999", "1.5", "%FF", "%20"];

    /// <summary>A request aimed at something that does not exist; bodies, where the route takes one, are otherwise valid.</summary>
    private FuzzRequest UnknownTarget(Random random)
    {
        var id = random.Next(3) == 0 ? "fuzz-no-such-" + random.Next().ToString("x", System.Globalization.CultureInfo.InvariantCulture) : Pick(random, UnknownIds);
        var index = Pick(random, StepIndexes);
        var targets = new (HttpMethod Method, string Path, BodySpec? Body)[]
        {
            (HttpMethod.Get, $"/api/jobs/{id}/status", null), (HttpMethod.Get, $"/api/jobs/{id}/events", null), (HttpMethod.Get, $"/api/jobs/{id}/webhooks", null),
            (HttpMethod.Get, $"/api/workflows/{id}/status", null), (HttpMethod.Get, $"/api/workflows/{id}/webhooks", null), (HttpMethod.Get, $"/api/machines/{id}", null),
            (HttpMethod.Post, $"/api/jobs/{id}/cancel", null), (HttpMethod.Post, $"/api/jobs/{id}/retry", null), (HttpMethod.Post, $"/api/workflows/{id}/cancel", null),
            (HttpMethod.Post, $"/api/workflows/{id}/steps/{index}/retry", null),
            // A known workflow with a step it does not have, or no step index at all.
            (HttpMethod.Post, $"/api/workflows/{_workflow}/steps/{(index is "0" or "1" ? "2" : index)}/retry", null),
            (HttpMethod.Delete, $"/api/keys/{id}", null),
            (HttpMethod.Post, $"/api/internal/jobs/{id}/progress", Progress), (HttpMethod.Post, $"/api/internal/jobs/{id}/complete", Complete),
            (HttpMethod.Post, $"/api/internal/jobs/{id}/fail", Fail), (HttpMethod.Post, $"/api/internal/workflows/{id}/job-completed", JobCompleted),
        };
        var (method, path, spec) = targets[random.Next(targets.Length)];
        var body = spec is null ? null : Encoding.UTF8.GetBytes(spec.Template().ToJsonString());
        return new(method, path, body, body is null ? null : "application/json", MustRefuse: true, "unknown target");
    }

    /// <summary>List routes with query parameters out of range, of the wrong type, or not valid percent-encoding; answers may be 200 or 4xx.</summary>
    private static FuzzRequest BadQuery(Random random)
    {
        string[] limits = ["0", "501", "-1", "abc", "1.5", "1e3", "99999999999", "%00", "%FF", "", "%205", "0x10", "50", "2147483648"];
        string[] cursors = ["%FF", "-1", "0", "99999999999999999999", "%00", new string('z', 1000), "0-0", "1795320329064-0", "%2e%2e", "%7B%22a%22%3A1%7D", "AAAA%3D%3D"];
        string[] statuses = ["bogus", "PENDING", "%FF", "%00", new string('s', 500), "pending,running", "pending", ""];
        string[] minutes = ["abc", "-1", "0", "99999999999", "1e9", "%FF", "2147483647", "-2147483648", "1.5"];
        var ids = string.Join(",", Enumerable.Range(0, 600).Select(i => "m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string[] idLists = [ids, ",,,", "%FF", "a,b", "%2C%2C", new string('i', 2000)];
        string Q(string name, string[] values) => random.Next(3) == 0 ? "" : $"{name}={Pick(random, values)}&";
        var path = random.Next(5) switch
        {
            0 => $"/api/jobs?{Q("status", statuses)}{Q("limit", limits)}{Q("cursor", cursors)}{Q("type", statuses)}{Q("worker", cursors)}{Q("machine", cursors)}{Q("workflow", cursors)}",
            1 => $"/api/workflows?{Q("limit", limits)}{Q("cursor", cursors)}",
            2 => $"/api/workers?{Q("limit", limits)}{Q("cursor", cursors)}",
            3 => $"/api/machines?{Q("limit", limits)}{Q("cursor", cursors)}{Q("ids", idLists)}",
            _ => $"/api/stats?{Q("minutes", minutes)}",
        };
        return new(HttpMethod.Get, path, null, null, MustRefuse: false, "query parameters");
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    // ---- the bodies: valid templates and the fields the silo checks in them ----


    private static JsonObject SimulationJob() => new()
    {
        ["type"] = "simulation", ["priority"] = 50, ["max_retries"] = 1, ["timeout_ms"] = 60000, ["duration_ms"] = 10, ["fail"] = false,
        ["requirements"] = new JsonObject
        {
            ["gpu_memory"] = 8, ["model_type"] = "fuzz-model", ["capabilities"] = new JsonArray(NobodysCapability), ["pool_preference"] = "standard",
        },
        ["note"] = "fuzz",
    };

    private static JsonObject TextToImageJob() => new()
    {
        ["type"] = "text-to-image", ["prompt"] = "a lighthouse",
        ["parameters"] = new JsonObject { ["width"] = 512, ["height"] = 512, ["steps"] = 20, ["guidance_scale"] = 7.5 },
        ["requirements"] = new JsonObject { ["capabilities"] = new JsonArray(NobodysCapability) },
    };

    /// <summary>The fields of a job body the silo checks, under <paramref name="at"/>.</summary>
    private static IEnumerable<FieldSpec> JobFields(string at) =>
    [
        new(at + "type", JsonKinds.String, Required: true, "\"\"", "\"no-such-type\"", "\"SIMULATION\"", MalformedJson.Chars(129)),
        new(at + "priority", JsonKinds.Integer, false, "-1", "1001", "99999999999"),
        new(at + "max_retries", JsonKinds.Integer, false, "-1", "101"),
        new(at + "timeout_ms", JsonKinds.Integer, false, "-1", "604800001"),
        new(at + "idempotency_key", JsonKinds.String, false, MalformedJson.Chars(129)),
        new(at + "webhook_url", JsonKinds.String, false, "\"not a url\"", "\"ftp://example.com/hook\"", "\"http://127.0.0.1:9/hook\"",
            "\"http://[::1]/hook\"", "\"http://10.1.2.3/hook\"", "\"http://169.254.169.254/latest\"", "\"http://a/" + new string('a', 2050) + "\""),
        new(at + "webhook_events", JsonKinds.Array, false, "[\"bogus\"]", "[5]", "[\"failed\"]", "[null]"),
        new(at + "requirements", JsonKinds.Object),
        new(at + "requirements.gpu_memory", JsonKinds.Number, false, "-1", "1000001"),
        new(at + "requirements.model_type", JsonKinds.String, false, MalformedJson.Chars(129)),
        new(at + "requirements.capabilities", JsonKinds.Array, false, "[5]", "[\"\"]", "[null]", MalformedJson.Repeat(65, "\"c\""), "[" + MalformedJson.Chars(129) + "]"),
        new(at + "requirements.pool_preference", JsonKinds.String, false, "\"bogus\"", "\"\""),
    ];

    private static readonly BodySpec SimulationSubmit = new("submit simulation", SimulationJob,
    [
        .. JobFields(""),
        new("duration_ms", JsonKinds.Integer, false, "-1", "3600001"),
        new("fail", JsonKinds.Boolean),
    ]);

    private static readonly BodySpec TextToImageSubmit = new("submit text-to-image", TextToImageJob,
    [
        .. JobFields(""),
        new("prompt", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(10_001)),
        new("parameters", JsonKinds.Object),
        new("parameters.width", JsonKinds.Integer, false, "63", "8193"),
        new("parameters.steps", JsonKinds.Integer, false, "501"),
        new("parameters.guidance_scale", JsonKinds.Number, false, "-1", "51"),
    ]);

    private static BodySpec Submit(Random random) => random.Next(2) == 0 ? SimulationSubmit : TextToImageSubmit;

    private static readonly BodySpec Batch = new("batch", () => new JsonObject { ["jobs"] = new JsonArray(SimulationJob(), TextToImageJob()) },
    [
        new("jobs", JsonKinds.Array, Required: true, "[]", MalformedJson.Repeat(1001, "{\"type\":\"simulation\"}")),
        new("jobs[0]", JsonKinds.Object, false, "null"),
        .. JobFields("jobs[0]."),
        .. JobFields("jobs[1].").Take(3),
        new("jobs[1].prompt", JsonKinds.String, Required: true, "\"\""),
    ]);

    private static readonly BodySpec Progress = new("progress", () => new JsonObject { ["progress"] = 50, ["message"] = "fuzz", ["lease_token"] = "fuzz-token" },
    [
        new("progress", JsonKinds.Number, Required: true, "-1", "100.5", "101"),
        new("message", JsonKinds.String, false, MalformedJson.Chars(1001)),
        new("lease_token", JsonKinds.String, false, MalformedJson.Chars(65)),
    ]);

    private static readonly BodySpec Complete = new("complete", () => new JsonObject { ["result"] = new JsonObject { ["ok"] = true }, ["lease_token"] = "fuzz-token" },
    [
        new("lease_token", JsonKinds.String, false, MalformedJson.Chars(65)),
    ]);

    private static readonly BodySpec Fail = new("fail", () => new JsonObject
    {
        ["error"] = new JsonObject { ["code"] = "FUZZ", ["message"] = "fuzz" }, ["retryable"] = true, ["lease_token"] = "fuzz-token",
    },
    [
        new("error", JsonKinds.Object, Required: true),
        new("error.code", JsonKinds.String, false, MalformedJson.Chars(65)),
        new("error.message", JsonKinds.String, false, MalformedJson.Chars(4001)),
        new("retryable", JsonKinds.Boolean),
        new("lease_token", JsonKinds.String, false, MalformedJson.Chars(65)),
    ]);

    private static readonly BodySpec JobCompleted = new("job-completed", () => new JsonObject { ["job_id"] = "fuzz-job", ["result"] = 1 },
    [
        new("job_id", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(129)),
    ]);

    private static readonly BodySpec Workflow = new("workflow", () => new JsonObject
    {
        ["name"] = "fuzz", ["description"] = "fuzz", ["failure_policy"] = "continue",
        ["steps"] = new JsonArray(
            new JsonObject { ["type"] = "simulation", ["priority"] = 5, ["requirements"] = new JsonObject { ["capabilities"] = new JsonArray(NobodysCapability) } },
            new JsonObject { ["type"] = "simulation", ["depends_on"] = new JsonArray(0) }),
    },
    [
        new("name", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(201)),
        new("description", JsonKinds.String, false, MalformedJson.Chars(10_001)),
        new("failure_policy", JsonKinds.String, false, "\"bogus\"", "\"\"", "\"FAIL_FAST\""),
        new("webhook_url", JsonKinds.String, false, "\"not a url\"", "\"ftp://example.com/x\"", "\"http://127.0.0.1:9/hook\""),
        new("steps", JsonKinds.Array, Required: true, "[]", MalformedJson.Repeat(101, "{\"type\":\"simulation\"}")),
        new("steps[0]", JsonKinds.Object, false, "null"),
        new("steps[0].depends_on", JsonKinds.Integer | JsonKinds.Array, false, "0", "1", "[1]", "[0]"),
        new("steps[1].depends_on", JsonKinds.Integer | JsonKinds.Array, false, "-1", "1", "2", "[1]", "[5]", "[\"0\"]", "[1.5]", "[-1]", "[null]", "99999999999"),
        // Any idempotency_key on a step, and inputs on a step with dependencies, are refused whatever their value.
        new("steps[0].idempotency_key", JsonKinds.None, false, "null"),
        new("steps[1].inputs", JsonKinds.None, false, "null"),
        .. JobFields("steps[0].").Take(4),
    ]);

    private static readonly BodySpec ApiKey = new("api key", () => new JsonObject { ["name"] = "fuzz-key", ["scopes"] = new JsonArray("monitor") },
    [
        new("name", JsonKinds.String, Required: true, "\"\"", "\"   \"", MalformedJson.Chars(101)),
        new("scopes", JsonKinds.Array, Required: true, "[]", "[\"bogus\"]", "[5]", "[null]", "[\"\"]", "[\"monitor\",\"root\"]"),
    ]);

    private static readonly BodySpec Session = new("session", () => new JsonObject { ["api_key"] = "fuzz-not-a-key" },
    [
        new("api_key", JsonKinds.String, Required: true, "\"\"", "\"   \""),
    ]);

    // With a made-up invitation, so that even a body the rules accept makes no account.
    private static readonly BodySpec Register = new("registration",
        () => new JsonObject { ["email"] = "fuzz@example.test", ["password"] = "fuzz password 123", ["invitation"] = "fuzz-not-an-invitation" },
    [
        new("email", JsonKinds.String, Required: true, "\"\"", "\"nobody\"", "\"@example.test\"", "\"a@b@c\"", "\"a b@example.test\"", MalformedJson.Chars(255)),
        new("password", JsonKinds.String, Required: true, "\"\"", "\"short\"", "\"fuzz@example.test\"", MalformedJson.Chars(129)),
        new("invitation", JsonKinds.String, false),
    ]);

    // An email with no account: each login is refused, and the lock it earns changes nothing the test checks.
    private static readonly BodySpec Login = new("login", () => new JsonObject { ["email"] = "fuzz-nobody@example.test", ["password"] = "fuzz password 123" },
    [
        new("email", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(255)),
        new("password", JsonKinds.String, Required: true, "\"\"", MalformedJson.Chars(129)),
    ]);
}
