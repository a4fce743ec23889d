using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Webhook delivery from one silo: what a receiver gets, signatures, retries and the delivery log.</summary>
public sealed class WebhookTests
{
    private const string Key = "e2e-webhook-admin-key-0123456789abcdef";
    private const string Secret = "e2e-webhook-secret";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = Key,
        Environment = WebhookTestSettings.Fast(Secret, maxAttempts: 3),
    });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    [Test]
    public async Task A_completed_job_is_delivered_once_signed_with_the_secret_and_described_in_the_body()
    {
        using var receiver = new WebhookReceiver();
        var capability = "cap-" + Guid.NewGuid().ToString("N")[..12];
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability));
        var id = await _silo.SubmitAsync(Key, new { type = "simulation", webhook_url = receiver.Url, requirements = new { capabilities = new[] { capability } } });
        var assigned = await worker.NextAssignmentAsync();
        await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = assigned["lease_token"]!.DeepClone(), ["result"] = new JsonObject { ["answer"] = 42 } });

        var log = await WebhookCalls.LogUntilAsync(_silo, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        var request = receiver.Requests.Single();
        using var body = JsonDocument.Parse(request.Body);
        var root = body.RootElement;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(request.Method, Is.EqualTo("POST"));
            Assert.That(request.PathAndQuery, Is.EqualTo("/hooks/cluster?token=abc"));
            Assert.That(request.Signature, Is.EqualTo(WebhookCalls.ExpectedSignature(request.Body, Secret)), "X-Cluster-Signature is the HMAC-SHA256 of the exact body");
            Assert.That(request.UserAgent, Is.EqualTo("Cluster-Webhooks/1"));
            Assert.That(request.ContentType, Does.StartWith("application/json"));
            Assert.That(request.Event, Is.EqualTo("job_completed"));
            Assert.That(request.DeliveryId, Is.Not.Empty);
            Assert.That(root.GetProperty("delivery_id").GetString(), Is.EqualTo(request.DeliveryId));
            Assert.That(root.GetProperty("event").GetString(), Is.EqualTo("job_completed"));
            Assert.That(DateTimeOffset.TryParse(root.GetProperty("occurred_at").GetString(), out _), Is.True);
            var job = root.GetProperty("job");
            Assert.That(job.GetProperty("id").GetString(), Is.EqualTo(id));
            Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("completed"));
            Assert.That(job.GetProperty("type").GetString(), Is.EqualTo("simulation"));
            Assert.That(job.GetProperty("result").GetProperty("answer").GetInt32(), Is.EqualTo(42));
            Assert.That(log.Single().GetProperty("attempt").GetInt32(), Is.EqualTo(1));
            Assert.That(log.Single().GetProperty("status_code").GetInt32(), Is.EqualTo(200));
        }
    }

    [Test]
    public async Task A_completed_workflow_is_delivered_once_to_its_webhook_signed_with_the_secret()
    {
        using var receiver = new WebhookReceiver();
        var capability = "cap-" + Guid.NewGuid().ToString("N")[..12];
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability));
        var requirements = new { capabilities = new[] { capability } };
        using var created = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/workflows/create", Key, JsonContent.Create(new
        {
            name = "two steps", webhook_url = receiver.Url,
            steps = new object[] { new { type = "simulation", requirements }, new { type = "simulation", requirements, depends_on = 0 } },
        })));
        var workflowId = (await created.JsonAsync()).GetProperty("workflow_id").GetString()!;
        for (var step = 0; step < 2; step++)
        {
            var assigned = await worker.NextAssignmentAsync();
            await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = assigned["job"]!["id"]!.DeepClone(), ["lease_token"] = assigned["lease_token"]!.DeepClone(), ["result"] = step });
        }

        await WebhookCalls.LogUntilAsync(_silo, Key, "workflows", workflowId, outcomes => outcomes.Contains("delivered"));

        var request = receiver.Requests.Single(r => r.Event == "workflow_completed");
        using var body = JsonDocument.Parse(request.Body);
        Assert.That(request.Signature, Is.EqualTo(WebhookCalls.ExpectedSignature(request.Body, Secret)));
        Assert.That(body.RootElement.GetProperty("workflow").GetProperty("id").GetString(), Is.EqualTo(workflowId));
        Assert.That(body.RootElement.GetProperty("workflow").GetProperty("status").GetString(), Is.EqualTo("completed"));
    }

    [Test]
    public async Task A_receiver_that_refuses_twice_gets_the_same_delivery_three_times_and_accepts_it_once()
    {
        using var receiver = new WebhookReceiver(refuseFirst: 2);
        var id = await _silo.SubmitAsync(Key, new { type = "simulation", webhook_url = receiver.Url, requirements = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } } });
        await WebhookCalls.CancelAsync(_silo, Key, id);

        var log = await WebhookCalls.LogUntilAsync(_silo, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        var requests = receiver.Requests;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(requests, Has.Count.EqualTo(3));
            Assert.That(receiver.Accepted, Has.Count.EqualTo(1));
            Assert.That(requests.Select(r => r.DeliveryId).Distinct().Count(), Is.EqualTo(1), "every retry carries the same delivery id");
            Assert.That(requests.Select(r => Encoding.UTF8.GetString(r.Body)).Distinct().Count(), Is.EqualTo(1), "every retry sends the same bytes");
            Assert.That(requests[0].Event, Is.EqualTo("job_cancelled"));
            Assert.That(log.Select(e => e.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "retrying", "retrying", "delivered" }));
            Assert.That(log.Select(e => e.GetProperty("attempt").GetInt32()), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(log[0].GetProperty("status_code").GetInt32(), Is.EqualTo(500));
            Assert.That(log.Select(e => e.GetProperty("delivery_id").GetString()).Distinct().Single(), Is.EqualTo(requests[0].DeliveryId));
        }
    }

    [Test]
    public async Task A_receiver_that_never_accepts_leaves_a_failed_delivery_after_the_last_attempt()
    {
        using var receiver = new WebhookReceiver(refuseFirst: int.MaxValue);
        var id = await _silo.SubmitAsync(Key, new { type = "simulation", webhook_url = receiver.Url, requirements = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } } });
        await WebhookCalls.CancelAsync(_silo, Key, id);

        var log = await WebhookCalls.LogUntilAsync(_silo, Key, "jobs", id, outcomes => outcomes.Contains("failed"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(log.Select(e => e.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "retrying", "retrying", "failed" }));
            Assert.That(log[^1].GetProperty("error").GetString(), Is.EqualTo("HTTP 500"));
            Assert.That(receiver.Requests, Has.Count.EqualTo(3));
        }
    }

    [Test]
    public async Task A_job_that_asked_for_failures_and_progress_is_told_of_them_as_well_as_of_its_end()
    {
        using var receiver = new WebhookReceiver();
        var capability = "cap-" + Guid.NewGuid().ToString("N")[..12];
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability));
        var id = await _silo.SubmitAsync(Key, new
        {
            type = "simulation", max_retries = 0, webhook_url = receiver.Url, webhook_events = new[] { "failed", "progress" },
            requirements = new { capabilities = new[] { capability } },
        });
        var assigned = await worker.NextAssignmentAsync();
        var token = assigned["lease_token"]!.DeepClone();
        await worker.CommandAsync(new JsonObject { ["type"] = "progress", ["job_id"] = id, ["lease_token"] = token.DeepClone(), ["progress"] = 50 });
        await worker.CommandAsync(new JsonObject { ["type"] = "fail", ["job_id"] = id, ["lease_token"] = token.DeepClone(), ["error"] = new JsonObject { ["code"] = "OOM", ["message"] = "out of memory" } });

        await WebhookCalls.LogUntilAsync(_silo, Key, "jobs", id, outcomes => outcomes.Count(o => o == "delivered") == 3);

        var events = receiver.Requests.ToDictionary(r => r.Event, r => JsonDocument.Parse(r.Body).RootElement.GetProperty("job"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(events.Keys, Is.EquivalentTo(new[] { "job_progress", "job_failed", "job_dead" }));
            Assert.That(events["job_progress"].GetProperty("progress").GetInt32(), Is.EqualTo(50));
            Assert.That(events["job_failed"].GetProperty("will_retry").GetInt32(), Is.Zero);
            Assert.That(events["job_dead"].GetProperty("status").GetString(), Is.EqualTo("dead"));
        }
    }

    [Test]
    public async Task The_delivery_log_of_an_unknown_job_or_workflow_is_404_and_of_a_job_without_webhook_is_empty()
    {
        var id = await _silo.SubmitAsync(Key, new { type = "simulation" });

        using var unknown = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/jobs/no-such-job/webhooks", Key));
        using var unknownWorkflow = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/workflows/no-such-workflow/webhooks", Key));
        using var known = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, $"/api/jobs/{id}/webhooks", Key));

        await unknown.AssertErrorAsync(HttpStatusCode.NotFound, "JOB_NOT_FOUND");
        await unknownWorkflow.AssertErrorAsync(HttpStatusCode.NotFound, "WORKFLOW_NOT_FOUND");
        var body = await known.JsonAsync();
        Assert.That(body.GetProperty("deliveries").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task The_signing_secret_is_shown_to_admins_only()
    {
        using var created = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", Key, JsonContent.Create(new { name = "submitter", scopes = new[] { "submit" } })));
        var submitKey = (await created.JsonAsync()).GetProperty("key").GetString();

        using var asAdmin = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/webhooks/secret", Key));
        using var asSubmitter = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/webhooks/secret", submitKey));

        var body = await asAdmin.JsonAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(body.GetProperty("secret").GetString(), Is.EqualTo(Secret));
            Assert.That(body.GetProperty("source").GetString(), Is.EqualTo("configuration"));
        }
        await asSubmitter.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }
}

/// <summary>Webhooks across silos sharing one Redis: each event is delivered once, not once per silo.</summary>
public sealed class WebhookClusterTests
{
    private const string Key = "e2e-webhook-cluster-key-0123456789abcdef";
    private const string Secret = "e2e-webhook-cluster-secret";
    private SiloCluster _cluster = null!;
    private RedisFixture _redis = null!;
    private SiloProcess _a = null!;
    private SiloProcess _b = null!;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await SiloCluster.StartAsync(2, new SiloSettings { BootstrapApiKey = Key, Environment = WebhookTestSettings.Fast(Secret) });
        (_redis, _a, _b) = (_cluster.Redis, _cluster[0], _cluster[1]);
    }

    [OneTimeTearDown]
    public ValueTask StopCluster() => _cluster.DisposeAsync();

    [Test]
    public async Task Each_event_is_delivered_once_however_many_silos_read_the_stream()
    {
        const int jobs = 20;
        using var receiver = new WebhookReceiver();
        var ids = new List<string>();
        for (var i = 0; i < jobs; i++)
        {
            var silo = i % 2 == 0 ? _a : _b;
            var id = await silo.SubmitAsync(Key, new { type = "simulation", webhook_url = receiver.Url, requirements = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } } });
            await WebhookCalls.CancelAsync(i % 3 == 0 ? _a : _b, Key, id);
            ids.Add(id);
        }

        foreach (var id in ids) await WebhookCalls.LogUntilAsync(_b, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        var requests = receiver.Requests;
        var deliveredJobs = requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("job").GetProperty("id").GetString()).ToArray();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(requests, Has.Count.EqualTo(jobs));
            Assert.That(requests.Select(r => r.DeliveryId).Distinct().Count(), Is.EqualTo(jobs));
            Assert.That(deliveredJobs, Is.EquivalentTo(ids));
        }
        var pending = await _redis.Database.StreamPendingAsync("events:hooks", "webhooks");
        Assert.That(pending.PendingMessageCount, Is.Zero, "every event read was acknowledged");
    }
}

/// <summary>Environment for silos under test: loopback receivers allowed, a known secret, fast retries.</summary>
internal static class WebhookTestSettings
{
    public static Dictionary<string, string> Fast(string? secret, int maxAttempts = 8, bool allowPrivateNetworks = true)
    {
        var environment = new Dictionary<string, string>
        {
            ["Webhooks__AllowPrivateNetworks"] = allowPrivateNetworks ? "true" : "false",
            ["Webhooks__FirstRetryDelay"] = "00:00:00.100",
            ["Webhooks__MaxRetryDelay"] = "00:00:00.400",
            ["Webhooks__MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Webhooks__Timeout"] = "00:00:01",
            ["Webhooks__ClaimIdleTime"] = "00:00:00.500",
            ["Webhooks__PollInterval"] = "00:00:00.200",
        };
        if (secret is not null) environment["Webhooks__Secret"] = secret;
        return environment;
    }
}

/// <summary>The API calls and checks the webhook tests share.</summary>
internal static class WebhookCalls
{
    public static async Task CancelAsync(SiloProcess silo, string key, string id)
    {
        using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, $"/api/jobs/{id}/cancel", key));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls <c>GET /api/{jobs|workflows}/{id}/webhooks</c> until the outcomes logged satisfy <paramref name="done"/>.</summary>
    public static async Task<IReadOnlyList<JsonElement>> LogUntilAsync(SiloProcess silo, string key, string kind, string id, Func<IReadOnlyList<string?>, bool> done, TimeSpan? within = null) =>
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, $"/api/{kind}/{id}/webhooks", key));
            var body = await response.JsonAsync();
            return body.TryGetProperty("deliveries", out var deliveries) ? deliveries.EnumerateArray().ToArray() : [];
        }, log => done([.. log.Select(e => e.GetProperty("outcome").GetString())]), within ?? TimeSpan.FromSeconds(30), because: $"the webhook log of {kind} {id}");

    /// <summary>What a receiver computes to check <c>X-Cluster-Signature</c>, independently of the silo's code.</summary>
    public static string ExpectedSignature(byte[] body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}
