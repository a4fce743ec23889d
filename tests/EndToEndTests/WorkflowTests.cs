using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Streams;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Seed 001's workflow scenarios through HTTP, and a workflow whose steps real agents run through three silos sharing
/// one Redis. What the silos did is read through the API and the flat <c>events:*</c> streams; a step is run by a worker claiming it over HTTP, as a seed-era polling worker does.
/// </summary>
public sealed class WorkflowTests
{
    private const string Key = "e2e-workflows-admin-key-0123456789abcdef";
    private SiloCluster _cluster = null!;
    private RedisFixture _redis = null!;
    private IReadOnlyList<SiloProcess> _silos = null!;

    private SiloProcess Silo => _silos[0];

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await SiloCluster.StartAsync(3, new SiloSettings
        {
            BootstrapApiKey = Key,
            // Seed 001's scenarios name webhook receivers on localhost, which a default silo refuses (SSRF).
            Environment = new Dictionary<string, string> { ["Webhooks__AllowPrivateNetworks"] = "true" },
        });
        (_redis, _silos) = (_cluster.Redis, _cluster.Silos);
    }

    [OneTimeTearDown]
    public ValueTask StopCluster() => _cluster.DisposeAsync();

    private readonly List<string> _created = [];

    /// <summary>
    /// Cancels what a test left running: a step without requirements is claimable by any worker, so one left pending
    /// would be the job a later test's worker claims instead of its own.
    /// </summary>
    [TearDown]
    public async Task CancelLeftoverWorkflows()
    {
        foreach (var id in _created)
        {
            using var response = await SendAsync(HttpMethod.Post, $"/api/workflows/{id}/cancel");
            Assert.That(response.StatusCode, Is.AnyOf(HttpStatusCode.OK, HttpStatusCode.Conflict), await response.Content.ReadAsStringAsync());
        }
        _created.Clear();
    }

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? json = null, SiloProcess? silo = null) =>
        (silo ?? Silo).Http.SendAsync(SiloProcess.Request(method, path, Key, json is null ? null : JsonContent.Create(json)));

    private async Task<(string WorkflowId, string[] JobIds)> CreateAsync(object workflow, SiloProcess? silo = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/workflows/create", workflow, silo);
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(body.GetProperty("success").GetBoolean(), Is.True);
        _created.Add(body.GetProperty("workflow_id").GetString()!);
        return (body.GetProperty("workflow_id").GetString()!, body.GetProperty("job_ids").EnumerateArray().Select(j => j.GetString()!).ToArray());
    }

    private async Task<JsonElement> StatusAsync(string workflowId, SiloProcess? silo = null)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/api/workflows/{workflowId}/status", silo: silo);
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body;
    }

    private async Task<JsonElement> JobAsync(string jobId)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/api/jobs/{jobId}/status");
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("job");
    }

    /// <summary>Claims over HTTP, as a polling worker, the job that only <paramref name="capability"/> serves; returns its lease token.</summary>
    private async Task<string> ClaimAsync(string jobId, string capability)
    {
        var claim = await Eventually.HoldsAsync(async () =>
        {
            using var response = await SendAsync(HttpMethod.Post, "/api/internal/jobs/claim",
                new { worker_id = "poller-" + capability, capabilities = new { gpu_memory = 24, capabilities = new[] { capability } } });
            var body = await response.JsonAsync();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
            return body;
        }, body => body.GetProperty("job").ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(30), $"a worker claims job {jobId}");
        Assert.That(claim.GetProperty("job").GetProperty("id").GetString(), Is.EqualTo(jobId));
        return claim.GetProperty("lease_token").GetString()!;
    }

    private static object Requiring(string capability) => new { capabilities = new[] { capability } };

    private Task<List<StreamEvent>> EventsAsync(string stream) => _redis.Database.ReadStreamAsync(stream);

    [Test]
    public async Task Creating_a_workflow_with_two_steps_returns_its_job_ids_and_links_them()
    {
        var (workflowId, jobIds) = await CreateAsync(new
        {
            name = "Image Generation Workflow", description = "Generate and upscale images",
            steps = new object[]
            {
                new { type = "text-to-image", prompt = "A beautiful landscape", parameters = new { width = 512, height = 512 } },
                new { type = "upscale", scale_factor = 2, depends_on = 0 },
            },
        });

        Assert.That(jobIds, Has.Length.EqualTo(2));
        var body = await StatusAsync(workflowId, _silos[1]);
        var workflow = body.GetProperty("workflow");
        Assert.That(workflow.GetProperty("name").GetString(), Is.EqualTo("Image Generation Workflow"));
        Assert.That(workflow.GetProperty("status").GetString(), Is.EqualTo("running"), "seed 001 says pending here and running elsewhere; a workflow with a claimable step is running");
        Assert.That(body.GetProperty("steps").GetArrayLength(), Is.EqualTo(2));
        Assert.That(workflow.GetProperty("total_steps").GetInt32(), Is.EqualTo(2));
        Assert.That(workflow.GetProperty("completed_steps").GetInt32(), Is.Zero);
        var jobs = await Task.WhenAll(jobIds.Select(JobAsync));
        Assert.That(jobs.Select(j => j.GetProperty("workflow_id").GetString()), Is.All.EqualTo(workflowId));
        Assert.That(jobs.Select(j => j.GetProperty("status").GetString()), Is.EqualTo(new[] { "pending", "waiting" }), "a step that depends on another waits for it");
        Assert.That(jobs[0].GetProperty("payload").GetProperty("prompt").GetString(), Is.EqualTo("A beautiful landscape"));
    }

    [Test]
    public async Task Steps_with_dependencies_wait_and_the_first_step_is_pending_at_once()
    {
        var (_, jobIds) = await CreateAsync(new
        {
            name = "Sequential Processing",
            steps = new object[]
            {
                new { type = "text-to-image", prompt = "Base image" },
                new { type = "img2img", image_url = "base.png", prompt = "Enhanced image", depends_on = new[] { 0 } },
                new { type = "upscale", scale_factor = 2, depends_on = new[] { 1 } },
            },
        });

        var statuses = await Task.WhenAll(jobIds.Select(async id => (await JobAsync(id)).GetProperty("status").GetString()));
        Assert.That(statuses, Is.EqualTo(new[] { "pending", "waiting", "waiting" }));
    }

    [Test]
    public async Task The_status_of_a_running_workflow_shows_progress_and_each_step()
    {
        var capability = Unique("progress");
        var (workflowId, jobIds) = await CreateAsync(new
        {
            name = "Test Workflow",
            steps = new object[]
            {
                new { type = "simulation", requirements = Requiring(capability) },
                new { type = "simulation", requirements = Requiring(capability), depends_on = 0 },
                new { type = "simulation", requirements = Requiring(capability), depends_on = 1 },
            },
        });
        var first = await ClaimAsync(jobIds[0], capability);
        using (var done = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{jobIds[0]}/complete", new { lease_token = first, result = new { image_url = "result1.jpg" } }))
            Assert.That(done.StatusCode, Is.EqualTo(HttpStatusCode.OK), (await done.JsonAsync()).ToString());
        var second = await ClaimAsync(jobIds[1], capability);
        using (var progress = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{jobIds[1]}/progress", new { lease_token = second, progress = 50 }))
            Assert.That(progress.StatusCode, Is.EqualTo(HttpStatusCode.OK), (await progress.JsonAsync()).ToString());

        var body = await StatusAsync(workflowId, _silos[2]);

        Assert.That(body.GetProperty("success").GetBoolean(), Is.True);
        var workflow = body.GetProperty("workflow");
        Assert.That(workflow.GetProperty("id").GetString(), Is.EqualTo(workflowId));
        Assert.That(workflow.GetProperty("name").GetString(), Is.EqualTo("Test Workflow"));
        Assert.That(workflow.GetProperty("status").GetString(), Is.EqualTo("running"));
        Assert.That(workflow.GetProperty("total_steps").GetInt32(), Is.EqualTo(3));
        Assert.That(workflow.GetProperty("completed_steps").GetInt32(), Is.EqualTo(1));
        Assert.That(workflow.GetProperty("progress_percentage").GetDouble(), Is.EqualTo(33.33).Within(0.1));
        var steps = body.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("job_id").GetString()!);
        Assert.That(steps.Keys, Is.EquivalentTo(jobIds));
        Assert.That(steps[jobIds[0]].GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(steps[jobIds[0]].GetProperty("result").GetProperty("image_url").GetString(), Is.EqualTo("result1.jpg"));
        Assert.That(steps[jobIds[1]].GetProperty("status").GetString(), Is.EqualTo("running"));
        Assert.That(steps[jobIds[1]].GetProperty("progress").GetDouble(), Is.EqualTo(50));
        Assert.That(steps[jobIds[2]].GetProperty("status").GetString(), Is.EqualTo("waiting"));
    }

    [Test]
    public async Task The_status_of_a_created_workflow_lists_its_steps_with_type_and_dependencies()
    {
        var (workflowId, jobIds) = await CreateAsync(new
        {
            name = "shape", steps = new object[] { new { type = "simulation" }, new { type = "upscale", depends_on = 0 } },
        });

        var body = await StatusAsync(workflowId, _silos[1]);

        Assert.That(body.GetProperty("workflow").GetProperty("progress_percentage").GetDouble(), Is.Zero);
        var steps = body.GetProperty("steps").EnumerateArray().ToArray();
        Assert.That(steps.Select(s => s.GetProperty("job_id").GetString()), Is.EqualTo(jobIds));
        Assert.That(steps.Select(s => s.GetProperty("step_index").GetInt32()), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(steps.Select(s => s.GetProperty("type").GetString()), Is.EqualTo(new[] { "simulation", "upscale" }));
        Assert.That(steps.Select(s => s.GetProperty("status").GetString()), Is.EqualTo(new[] { "pending", "waiting" }));
        Assert.That(steps[1].GetProperty("depends_on").EnumerateArray().Select(d => d.GetInt32()), Is.EqualTo(new[] { 0 }));
        Assert.That(steps[0].GetProperty("depends_on").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task The_seed_internal_job_completed_flow_promotes_the_next_step_and_completes_the_workflow()
    {
        var capability = Unique("seed-flow");
        var (workflowId, jobIds) = await CreateAsync(new
        {
            name = "Image Processing Pipeline",
            steps = new object[]
            {
                new { type = "text-to-image", prompt = "A scenic mountain view", requirements = Requiring(capability) },
                new { type = "upscale", scale_factor = 2, depends_on = new[] { 0 }, requirements = Requiring(capability) },
            },
            webhook_url = "http://localhost:3001/test-workflow-webhook",
        });
        // A seed-era worker holds the step (it claimed it) and reports it done through the workflow's internal route alone.
        await ClaimAsync(jobIds[0], capability);
        var first = new { image_url = "https://cdn.example.com/mountain-512.jpg" };

        using (var done = await SendAsync(HttpMethod.Post, $"/api/internal/workflows/{workflowId}/job-completed", new { job_id = jobIds[0], result = first }))
            Assert.That(done.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var again = await SendAsync(HttpMethod.Post, $"/api/internal/workflows/{workflowId}/job-completed", new { job_id = jobIds[0], result = first }, _silos[2]))
            Assert.That((await again.JsonAsync()).GetProperty("already_completed").GetBoolean(), Is.True);

        Assert.That((await JobAsync(jobIds[1])).GetProperty("status").GetString(), Is.EqualTo("pending"));

        await ClaimAsync(jobIds[1], capability);
        var second = new { image_url = "https://cdn.example.com/mountain-1024.jpg", upscale_factor = 2 };
        using (var done = await SendAsync(HttpMethod.Post, $"/api/internal/workflows/{workflowId}/job-completed", new { job_id = jobIds[1], result = second }))
            Assert.That(done.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var workflow = (await StatusAsync(workflowId)).GetProperty("workflow");
        Assert.That(workflow.GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(workflow.GetProperty("completed_steps").GetInt32(), Is.EqualTo(2));
        var events = (await EventsAsync("events:workflows")).Where(e => e["workflow_id"] == workflowId).ToList();
        Assert.That(events.Count(e => e.Type == "workflow_step_promoted"), Is.EqualTo(1));
        Assert.That(events.Single(e => e.Type == "workflow_completed")["webhook_url"], Is.EqualTo("http://localhost:3001/test-workflow-webhook"));
        var firstJob = await JobAsync(jobIds[0]);
        Assert.That(firstJob.GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(firstJob.GetProperty("result").GetProperty("image_url").GetString(), Is.EqualTo(first.image_url), "the route completes the step with the result it was given");
    }

    [TestCase("a cycle", """[{"type":"simulation","depends_on":[1]},{"type":"simulation","depends_on":0}]""", "cycle")]
    [TestCase("a self-dependency", """[{"type":"simulation","depends_on":0}]""", "steps[0]")]
    [TestCase("an index out of range", """[{"type":"simulation"},{"type":"simulation","depends_on":[2]}]""", "steps[1]")]
    [TestCase("an invalid step", """[{"type":"simulation"},{"type":"no-such-type","depends_on":[0]}]""", "steps[1]")]
    [TestCase("no name", null, "'name'")]
    public async Task A_workflow_with_bad_steps_is_refused_with_400_and_writes_nothing(string _, string? steps, string named)
    {
        var before = await _redis.Database.SortedSetLengthAsync("workflows");
        var body = steps is null
            ? new JsonObject { ["steps"] = new JsonArray(new JsonObject { ["type"] = "simulation" }) }
            : new JsonObject { ["name"] = "bad", ["steps"] = JsonNode.Parse(steps) };

        using var response = await SendAsync(HttpMethod.Post, "/api/workflows/create", body);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain(named));
        Assert.That(await _redis.Database.SortedSetLengthAsync("workflows"), Is.EqualTo(before));
    }

    [Test]
    public async Task An_unknown_workflow_is_404_workflow_not_found()
    {
        using var status = await SendAsync(HttpMethod.Get, "/api/workflows/no-such-workflow/status");
        await status.AssertErrorAsync(HttpStatusCode.NotFound, "WORKFLOW_NOT_FOUND");
        using var cancel = await SendAsync(HttpMethod.Post, "/api/workflows/no-such-workflow/cancel");
        await cancel.AssertErrorAsync(HttpStatusCode.NotFound, "WORKFLOW_NOT_FOUND");
    }

    [Test]
    public async Task A_cancelled_workflow_can_resume_by_retrying_a_step_and_is_listed()
    {
        var (workflowId, jobIds) = await CreateAsync(new
        {
            name = "cancel me", steps = new object[] { new { type = "simulation", requirements = new { capabilities = new[] { Unique("none") } } }, new { type = "simulation", depends_on = 0 } },
        });

        using (var cancel = await SendAsync(HttpMethod.Post, $"/api/workflows/{workflowId}/cancel"))
            Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StatusAsync(workflowId)).GetProperty("workflow").GetProperty("status").GetString(), Is.EqualTo("cancelled"));
        using (var again = await SendAsync(HttpMethod.Post, $"/api/workflows/{workflowId}/cancel"))
            await again.AssertErrorAsync(HttpStatusCode.Conflict, "INVALID_STATE");

        using (var retry = await SendAsync(HttpMethod.Post, $"/api/workflows/{workflowId}/steps/0/retry"))
            Assert.That(retry.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await StatusAsync(workflowId);
        Assert.That(body.GetProperty("workflow").GetProperty("status").GetString(), Is.EqualTo("running"));
        Assert.That(body.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("status").GetString()), Is.EqualTo(new[] { "pending", "waiting" }));

        using var list = await SendAsync(HttpMethod.Get, "/api/workflows?limit=500");
        var listed = (await list.JsonAsync()).GetProperty("workflows").EnumerateArray().Select(w => w.GetProperty("id").GetString());
        Assert.That(listed, Does.Contain(workflowId));
        Assert.That(jobIds, Has.Length.EqualTo(2));
    }

    [Test]
    public async Task A_fan_out_fan_in_workflow_run_by_agents_on_three_silos_completes_exactly_once()
    {
        var capability = Unique("flow");
        var steps = new List<object> { new { type = "simulation", duration_ms = 5, requirements = new { capabilities = new[] { capability } } } };
        for (var i = 1; i <= 8; i++) steps.Add(new { type = "simulation", duration_ms = 5, requirements = new { capabilities = new[] { capability } }, depends_on = 0 });
        steps.Add(new { type = "simulation", duration_ms = 5, requirements = new { capabilities = new[] { capability } }, depends_on = Enumerable.Range(1, 8).ToArray() });
        await using var watcher = await ProtocolClient.ConnectAsync(_silos[2], Key);
        var agents = _silos.Select((silo, i) => AgentProcess.Start(silo, Key, Unique("box" + i), 2,
            "--connector", "simulation", "--sim-duration-ms", "5", "--capabilities", capability)).ToArray();
        try
        {
            var (workflowId, jobIds) = await CreateAsync(new { name = "fan-out fan-in", steps }, _silos[1]);
            var subscribed = await watcher.CommandAsync(new JsonObject
            {
                ["type"] = "subscribe", ["topic"] = "workflows", ["since"] = "0", ["filter"] = new JsonObject { ["workflow_id"] = workflowId, ["event_types"] = new JsonArray("workflow_completed") },
            });
            Assert.That(ProtocolClient.Text(subscribed["type"]), Is.EqualTo("subscribed"), subscribed.ToJsonString());

            var finished = await Eventually.HoldsAsync(async () => (await StatusAsync(workflowId, _silos[2])).GetProperty("workflow"),
                w => w.GetProperty("status").GetString() != "running", TimeSpan.FromMinutes(2), "the agents run all ten steps");

            Assert.That(finished.GetProperty("status").GetString(), Is.EqualTo("completed"));
            Assert.That(finished.GetProperty("completed_steps").GetInt32(), Is.EqualTo(10));
            var jobEvents = await EventsAsync("events:jobs");
            Assert.That(jobIds.Select(id => jobEvents.Count(e => e.Type == "job_completed" && e["job_id"] == id)), Is.All.EqualTo(1), "one completion per step");
            var workflowEvents = (await EventsAsync("events:workflows")).Where(e => e["workflow_id"] == workflowId).ToList();
            Assert.That(workflowEvents.Count(e => e.Type == "workflow_completed"), Is.EqualTo(1));
            Assert.That(workflowEvents.Where(e => e.Type == "workflow_step_promoted").Select(e => e["step_index"]),
                Is.EquivalentTo(Enumerable.Range(1, 9).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))), "each step promoted once");
            var inputs = (await JobAsync(jobIds[9])).GetProperty("payload").GetProperty("inputs").EnumerateObject().ToArray();
            Assert.That(inputs.Select(p => p.Name), Is.EqualTo(Enumerable.Range(1, 8).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            Assert.That(inputs.Select(p => p.Value.GetProperty("simulated").GetBoolean()), Is.All.True, "each input is its step's result");
            var seen = await watcher.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "event");
            Assert.That(ProtocolClient.Text(seen["event"]!["workflow_id"]), Is.EqualTo(workflowId), "the dashboard's workflows topic carries it");
        }
        finally
        {
            foreach (var agent in agents) await agent.DisposeAsync();
        }
    }
}
