using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Seed 001's job API scenarios against a real silo process.</summary>
public sealed class JobApiTests
{
    private const string Key = "e2e-jobs-admin-key-0123456789abcdef";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings { BootstrapApiKey = Key });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? json = null, string? apiKey = Key) =>
        _silo.Http.SendAsync(SiloProcess.Request(method, path, apiKey, json is null ? null : JsonContent.Create(json)));

    private Task<HttpResponseMessage> SendRawAsync(string path, string body) =>
        _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, path, Key, new StringContent(body, Encoding.UTF8, "application/json")));

    /// <summary>A capability no other test's worker has, so each test's jobs reach only its own workers.</summary>
    private static string UniqueCapability() => "cap-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<string> SubmitAsync(string capability, int priority = 50, string type = "simulation", object? extra = null)
    {
        var job = new JsonObject
        {
            ["type"] = type, ["priority"] = priority,
            ["requirements"] = new JsonObject { ["capabilities"] = new JsonArray(capability) },
        };
        if (extra is not null) foreach (var (k, v) in JsonSerializer.SerializeToNode(extra)!.AsObject()) job[k] = v?.DeepClone();
        return await _silo.SubmitAsync(Key, job);
    }

    private async Task<JsonElement> StatusAsync(string id)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/api/jobs/{id}/status");
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("job");
    }

    [Test]
    public async Task Submitting_a_job_returns_its_id_and_the_status_shows_the_whole_body_as_payload()
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/jobs/submit",
            new { type = "text-to-image", prompt = "A serene landscape", parameters = new { width = 512, height = 512, steps = 20 }, priority = 60 });
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("success").GetBoolean(), Is.True);
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("submitted"));
        var job = await StatusAsync(body.GetProperty("job_id").GetString()!);
        Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("pending"));
        Assert.That(job.GetProperty("type").GetString(), Is.EqualTo("text-to-image"));
        Assert.That(job.GetProperty("progress").GetDouble(), Is.Zero);
        Assert.That(job.GetProperty("payload").GetProperty("prompt").GetString(), Is.EqualTo("A serene landscape"));
        Assert.That(job.GetProperty("payload").GetProperty("parameters").GetProperty("width").GetInt32(), Is.EqualTo(512));
        Assert.That(job.GetProperty("created_at").GetString(), Is.Not.Empty);
    }

    [Test]
    public async Task An_invalid_job_is_refused_with_400_and_a_validation_message()
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/jobs/submit", new { type = "invalid-type", parameters = new { } });

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Match("(?i)validation"));
    }

    [TestCase(null)]
    [TestCase("invalid_key")]
    public async Task Submitting_without_a_valid_key_gets_401(string? key)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/jobs/submit", new { type = "simulation" }, key);
        await response.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Test]
    public async Task An_unknown_job_gets_404_job_not_found()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/jobs/non-existent-job/status");

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "JOB_NOT_FOUND");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("Job not found"));
    }

    [Test]
    public async Task Fifty_concurrent_submissions_all_succeed_with_distinct_ids()
    {
        var capability = UniqueCapability();
        var ids = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => SubmitAsync(capability, priority: i * 7 % 100)));

        Assert.That(ids.Distinct().Count(), Is.EqualTo(50));
        foreach (var id in ids) Assert.That((await StatusAsync(id)).GetProperty("status").GetString(), Is.EqualTo("pending"));
    }

    [Test]
    public async Task A_batch_is_submitted_whole_or_refused_whole()
    {
        var capability = UniqueCapability();
        var requirements = new { capabilities = new[] { capability } };
        using var good = await SendAsync(HttpMethod.Post, "/api/jobs/batch",
            new { jobs = new object[] { new { type = "simulation", requirements }, new { type = "simulation", requirements } } });
        using var bad = await SendAsync(HttpMethod.Post, "/api/jobs/batch",
            new { jobs = new object[] { new { type = "simulation", requirements }, new { type = "text-to-image", requirements } } });
        using var listed = await SendAsync(HttpMethod.Get, "/api/jobs?type=simulation&status=pending&limit=500");

        Assert.That((await good.JsonAsync()).GetProperty("job_ids").GetArrayLength(), Is.EqualTo(2));
        await bad.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await bad.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("jobs[1]").And.Contain("prompt"));
        var mine = (await listed.JsonAsync()).GetProperty("jobs").EnumerateArray()
            .Count(j => j.GetProperty("requirements").ToString().Contains(capability, StringComparison.Ordinal));
        Assert.That(mine, Is.EqualTo(2));
    }

    [TestCase("{\"type\": \"simulation\", ", "not valid JSON")]
    [TestCase("{\"type\": 42}", "'type' must be a string")]
    [TestCase("{\"type\": \"simulation\", \"priority\": -5}", "'priority' must be a whole number")]
    [TestCase("{\"type\": \"simulation\", \"max_retries\": \"three\"}", "'max_retries' must be a whole number")]
    [TestCase("[1, 2, 3]", "must be a JSON object")]
    public async Task Malformed_bodies_get_400_with_the_problem_named(string body, string problem)
    {
        using var response = await SendRawAsync("/api/jobs/submit", body);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain(problem));
    }

    [Test]
    public async Task A_huge_payload_gets_413_and_no_job()
    {
        var capability = UniqueCapability();
        var body = JsonSerializer.Serialize(new { type = "simulation", requirements = new { capabilities = new[] { capability } }, blob = new string('x', 2 * 1024 * 1024) });

        using var response = await SendRawAsync("/api/jobs/submit", body);
        using var listed = await SendAsync(HttpMethod.Get, "/api/jobs?type=simulation&limit=500");

        await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        Assert.That((await listed.JsonAsync()).GetProperty("jobs").ToString(), Does.Not.Contain(capability));
    }

    [Test]
    public async Task The_same_idempotency_key_returns_the_same_job()
    {
        var capability = UniqueCapability();
        var first = await SubmitAsync(capability, extra: new { idempotency_key = capability });
        var second = await SubmitAsync(capability, extra: new { idempotency_key = capability });

        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public async Task A_pending_job_can_be_cancelled_and_retried_and_a_finished_one_cannot_be_cancelled_again()
    {
        var id = await SubmitAsync(UniqueCapability());

        using var cancel = await SendAsync(HttpMethod.Post, $"/api/jobs/{id}/cancel");
        using var again = await SendAsync(HttpMethod.Post, $"/api/jobs/{id}/cancel");
        Assert.That((await StatusAsync(id)).GetProperty("status").GetString(), Is.EqualTo("cancelled"));
        using var retry = await SendAsync(HttpMethod.Post, $"/api/jobs/{id}/retry");

        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await again.AssertErrorAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        Assert.That(retry.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StatusAsync(id)).GetProperty("status").GetString(), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Jobs_are_listed_newest_first_page_by_page()
    {
        var capability = UniqueCapability();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(await SubmitAsync(capability, type: "upscale"));

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            using var response = await SendAsync(HttpMethod.Get, "/api/jobs?type=upscale&limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            var body = await response.JsonAsync();
            seen.AddRange(body.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()!));
            cursor = body.TryGetProperty("next_cursor", out var next) ? next.GetString() : null;
        } while (cursor is not null);

        Assert.That(seen.Where(ids.Contains), Is.EqualTo(Enumerable.Reverse(ids).ToArray()));
        using var badLimit = await SendAsync(HttpMethod.Get, "/api/jobs?limit=100000");
        await badLimit.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        using var badStatus = await SendAsync(HttpMethod.Get, "/api/jobs?status=sleeping");
        await badStatus.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Test]
    public async Task Seed_internal_routes_report_progress_and_complete_a_job_a_worker_claimed()
    {
        var capability = UniqueCapability();
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("internal-" + capability, "machine-" + capability, RawWorker.Capabilities(capability));
        var id = await SubmitAsync(capability, type: "text-to-image", extra: new { prompt = "A magnificent dragon" });
        await worker.NextAssignmentAsync();

        foreach (var progress in new[] { 10, 25, 50, 75, 90 })
        {
            using var reported = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/progress", new { progress });
            Assert.That(reported.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That((await StatusAsync(id)).GetProperty("progress").GetDouble(), Is.EqualTo(progress));
        }
        var result = new { image_url = "https://cdn.example.test/dragon.jpg", metadata = new { steps = 20, seed = 42 } };
        using var completed = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/complete", new { result });
        using var completedAgain = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/complete", new { result = new { other = true } });
        using var badProgress = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/progress", new { progress = 150 });

        var job = await StatusAsync(id);
        Assert.That(completed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(completedAgain.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(job.GetProperty("progress").GetDouble(), Is.EqualTo(100));
        Assert.That(job.GetProperty("result").GetProperty("image_url").GetString(), Is.EqualTo(result.image_url));
        Assert.That(job.GetProperty("result").GetProperty("metadata").GetProperty("seed").GetInt32(), Is.EqualTo(42));
        await badProgress.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Test]
    public async Task A_polling_worker_claims_over_http_the_job_its_capabilities_serve_and_completes_it_under_the_lease()
    {
        var capability = UniqueCapability();
        var id = await SubmitAsync(capability, type: "text-to-image", extra: new { prompt = "A lighthouse" });
        var worker = "poller-" + capability;

        using var unserved = await SendAsync(HttpMethod.Post, "/api/internal/jobs/claim",
            new { worker_id = worker, capabilities = new { gpu_memory = 24, capabilities = new[] { "cap-nobody-asked-for" } } });
        using var claimed = await SendAsync(HttpMethod.Post, "/api/internal/jobs/claim",
            new { worker_id = worker, machine_id = "m-" + capability, capabilities = new { gpu_memory = 24, capabilities = new[] { capability } } });
        using var nothingLeft = await SendAsync(HttpMethod.Post, "/api/internal/jobs/claim",
            new { worker_id = worker, capabilities = new { gpu_memory = 24, capabilities = new[] { capability } } });
        var unservedBody = await unserved.JsonAsync();
        var claim = await claimed.JsonAsync();
        Assert.That(claimed.StatusCode, Is.EqualTo(HttpStatusCode.OK), claim.ToString());
        var token = claim.GetProperty("lease_token").GetString()!;

        using var stale = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/complete", new { result = new { ok = false }, lease_token = "not-the-lease" });
        using var completed = await SendAsync(HttpMethod.Post, $"/api/internal/jobs/{id}/complete", new { result = new { ok = true }, lease_token = token });
        var job = await StatusAsync(id);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(unservedBody.TryGetProperty("job", out _), Is.False, "a worker that cannot serve the job gets none");
            Assert.That(claim.GetProperty("job").GetProperty("id").GetString(), Is.EqualTo(id));
            Assert.That(claim.GetProperty("job").GetProperty("status").GetString(), Is.EqualTo("assigned"));
            Assert.That(claim.GetProperty("lease_expires_at").GetInt64(), Is.GreaterThan(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
            Assert.That((await nothingLeft.JsonAsync()).TryGetProperty("job", out _), Is.False, "a job is claimed once");
            Assert.That(completed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("completed"));
            Assert.That(job.GetProperty("worker_id").GetString(), Is.EqualTo(worker));
            Assert.That(job.GetProperty("result").GetProperty("ok").GetBoolean(), Is.True);
        }
        await stale.AssertErrorAsync(HttpStatusCode.Conflict, "STALE_LEASE");
    }

    [TestCase("{}", "worker_id")]
    [TestCase("""{"worker_id":""}""", "worker_id")]
    [TestCase("""{"worker_id":"w","capabilities":{"gpu_memory":"lots"}}""", "capabilities")]
    [TestCase("""{"worker_id":"w","capabilities":{"model_types":[""]}}""", "capabilities")]
    [TestCase("""{"worker_id":"w","capabilities":[]}""", "capabilities")]
    public async Task A_malformed_claim_gets_400_and_claims_nothing(string body, string named)
    {
        using var response = await SendRawAsync("/api/internal/jobs/claim", body);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain(named));
    }
}
