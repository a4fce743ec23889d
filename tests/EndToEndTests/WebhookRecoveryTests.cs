using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Testing;
using StackExchange.Redis;

namespace Cluster.EndToEndTests;

/// <summary>
/// Webhook delivery when silos die, when events were read but never acknowledged, when an address turns out
/// internal, and with a generated secret. Each test starts the silos it needs on a Redis emptied for it.
/// </summary>
public sealed class WebhookRecoveryTests
{
    private const string Key = "e2e-webhook-recovery-key-0123456789abcdef";
    private const string Secret = "e2e-webhook-recovery-secret";
    private RedisFixture _redis = null!;

    [OneTimeSetUp]
    public async Task StartRedis() => _redis = await RedisFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopRedis() => await _redis.DisposeAsync();

    [SetUp]
    public Task EmptyRedis() => _redis.FlushAsync();

    /// <param name="deliver">False: the silo takes submissions but delivers no webhook (<c>Webhooks:Enabled</c>).</param>
    private SiloSettings Settings(bool allowPrivateNetworks = true, string? secret = Secret, bool deliver = true)
    {
        var environment = WebhookTestSettings.Fast(secret, allowPrivateNetworks: allowPrivateNetworks);
        if (!deliver) environment["Webhooks__Enabled"] = "false";
        return new SiloSettings { BootstrapApiKey = Key, RedisConnectionString = _redis.ConnectionString, Environment = environment };
    }

    private static object UnclaimableJob(string? webhookUrl) => JobFor("nobody-has-" + Guid.NewGuid().ToString("N"), webhookUrl);

    private static object JobFor(string capability, string? webhookUrl) =>
        new { type = "simulation", webhook_url = webhookUrl, requirements = new { capabilities = new[] { capability } } };

    /// <summary>Submits a job with a webhook, claims it over HTTP as a polling worker and completes it with <paramref name="result"/>; returns its id.</summary>
    private static async Task<string> CompleteAsync(SiloProcess silo, string webhookUrl, int result)
    {
        var capability = "only-" + Guid.NewGuid().ToString("N");
        var id = await silo.SubmitAsync(Key, JobFor(capability, webhookUrl));
        using var claimed = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/internal/jobs/claim", Key,
            JsonContent.Create(new { worker_id = "poller-" + capability, capabilities = new { capabilities = new[] { capability } } })));
        var claim = await claimed.JsonAsync();
        Assert.That(claim.GetProperty("job").GetProperty("id").GetString(), Is.EqualTo(id), claim.ToString());
        using var completed = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, $"/api/internal/jobs/{id}/complete", Key,
            JsonContent.Create(new { lease_token = claim.GetProperty("lease_token").GetString(), result })));
        Assert.That(completed.StatusCode, Is.EqualTo(HttpStatusCode.OK), await completed.Content.ReadAsStringAsync());
        return id;
    }

    [Test]
    public async Task A_delivery_in_flight_when_its_silo_is_killed_is_sent_again_by_the_next_silo()
    {
        using var receiver = new WebhookReceiver(holdFirst: true);
        await using var first = await SiloProcess.StartReadyAsync(Settings());
        var id = await first.SubmitAsync(Key, UnclaimableJob(receiver.Url));
        await WebhookCalls.CancelAsync(first, Key, id);
        await receiver.FirstArrived.WaitAsync(TimeSpan.FromSeconds(30));

        first.KillHard();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(15));
        await using var second = await SiloProcess.StartReadyAsync(Settings());
        var log = await WebhookCalls.LogUntilAsync(second, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        var requests = receiver.Requests;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(requests, Has.Count.EqualTo(2));
            Assert.That(requests[1].DeliveryId, Is.EqualTo(requests[0].DeliveryId));
            Assert.That(requests[1].Body, Is.EqualTo(requests[0].Body));
            Assert.That(receiver.Accepted, Has.Count.EqualTo(1));
            Assert.That(log.Single().GetProperty("attempt").GetInt32(), Is.EqualTo(2), "the attempt the killed silo made counts, but only its sender could log it");
        }
    }

    [Test]
    public async Task An_event_a_dead_silo_read_but_never_acknowledged_is_delivered_by_another()
    {
        using var receiver = new WebhookReceiver();
        var redis = _redis.Database;
        await redis.StreamCreateConsumerGroupAsync("events:hooks", "webhooks", "$", createStream: true);
        string id;
        // A silo that delivers nothing runs the job to its end, so that its job_completed event waits in the group unread.
        await using (var worker = await SiloProcess.StartReadyAsync(Settings(deliver: false)))
            id = await CompleteAsync(worker, receiver.Url, result: 7);
        var read = await redis.StreamReadGroupAsync("events:hooks", "webhooks", "a-silo-that-died", StreamPosition.NewMessages);
        Assert.That(read.Where(e => e["type"] == "job_completed").ToList(), Has.Count.EqualTo(1),
            "the dead silo holds the event unacknowledged");

        await using var silo = await SiloProcess.StartReadyAsync(Settings());
        await WebhookCalls.LogUntilAsync(silo, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        using var body = JsonDocument.Parse(receiver.Requests.Single().Body);
        var pending = await redis.StreamPendingAsync("events:hooks", "webhooks");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(body.RootElement.GetProperty("event").GetString(), Is.EqualTo("job_completed"));
            Assert.That(body.RootElement.GetProperty("job").GetProperty("id").GetString(), Is.EqualTo(id));
            Assert.That(body.RootElement.GetProperty("job").GetProperty("result").GetInt32(), Is.EqualTo(7));
            Assert.That(pending.PendingMessageCount, Is.Zero);
        }
    }

    [Test]
    public async Task Loopback_and_private_webhook_urls_are_refused_at_submission_unless_private_networks_are_allowed()
    {
        await using var silo = await SiloProcess.StartReadyAsync(Settings(allowPrivateNetworks: false));

        using var loopback = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/submit", Key, JsonContent.Create(UnclaimableJob("http://127.0.0.1:9/hook"))));
        using var named = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/submit", Key, JsonContent.Create(UnclaimableJob("http://localhost:9/hook"))));
        using var batch = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/batch", Key, JsonContent.Create(new
        {
            jobs = new[] { UnclaimableJob("https://93.184.216.34/hook"), UnclaimableJob("http://169.254.169.254/latest/meta-data") },
        })));
        using var jobs = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/jobs", Key));

        await loopback.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        await named.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        await batch.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That((await jobs.JsonAsync()).GetProperty("jobs").GetArrayLength(), Is.Zero, "a refused submission stores nothing");
    }

    [Test]
    public async Task A_delivery_whose_host_is_internal_when_it_is_sent_fails_at_once_with_the_reason()
    {
        using var receiver = new WebhookReceiver();
        // As if DNS had pointed the host at a public address when the job was submitted: the silo that took the
        // submission allowed the address, the one that sends finds it loopback.
        await using var submitter = await SiloProcess.StartReadyAsync(Settings(deliver: false));
        await using var sender = await SiloProcess.StartReadyAsync(Settings(allowPrivateNetworks: false));
        var id = await submitter.SubmitAsync(Key, UnclaimableJob(receiver.Url));
        await WebhookCalls.CancelAsync(submitter, Key, id);

        var log = await WebhookCalls.LogUntilAsync(sender, Key, "jobs", id, outcomes => outcomes.Contains("failed"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(log.Single().GetProperty("attempt").GetInt32(), Is.EqualTo(1), "a refused address is not retried");
            Assert.That(log.Single().GetProperty("error").GetString(), Does.Contain("loopback"));
            Assert.That(receiver.Requests, Is.Empty);
        }
    }

    [Test]
    public async Task Without_a_configured_secret_the_silos_generate_one_they_share_and_sign_with()
    {
        using var receiver = new WebhookReceiver();
        var silos = await Task.WhenAll(SiloProcess.StartReadyAsync(Settings(secret: null)), SiloProcess.StartReadyAsync(Settings(secret: null)));
        await using var a = silos[0];
        await using var b = silos[1];

        var secretA = await SecretAsync(a);
        var secretB = await SecretAsync(b);
        var stored = (await _redis.Database.HashGetAsync("cluster:config", "webhook_secret")).ToString();
        var id = await a.SubmitAsync(Key, UnclaimableJob(receiver.Url));
        await WebhookCalls.CancelAsync(b, Key, id);
        await WebhookCalls.LogUntilAsync(a, Key, "jobs", id, outcomes => outcomes.Contains("delivered"));

        var request = receiver.Requests.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(secretA.GetProperty("source").GetString(), Is.EqualTo("generated"));
            Assert.That(secretA.GetProperty("secret").GetString(), Has.Length.EqualTo(64));
            Assert.That(secretB.GetProperty("secret").GetString(), Is.EqualTo(secretA.GetProperty("secret").GetString()));
            Assert.That(stored, Is.EqualTo(secretA.GetProperty("secret").GetString()));
            Assert.That(request.Signature, Is.EqualTo(WebhookCalls.ExpectedSignature(request.Body, stored)));
        }
    }

    [TestCase("Webhooks__MaxAttempts", "0", "Webhooks:MaxAttempts must be at least 1")]
    [TestCase("Webhooks__Timeout", "soon", "invalid Webhooks configuration")]
    public async Task A_malformed_webhooks_setting_stops_the_silo_with_one_clear_line(string name, string value, string expected)
    {
        var settings = Settings();
        await using var silo = SiloProcess.Start(settings with { Environment = new Dictionary<string, string>(settings.Environment) { [name] = value } });

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));

        var stderr = silo.StandardError.Where(l => l.Trim().Length > 0).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Not.Zero, silo.Transcript());
            Assert.That(stderr, Has.Count.EqualTo(1), silo.Transcript());
            Assert.That(stderr.FirstOrDefault(), Does.StartWith("cluster-silo: ").And.Contain(expected), silo.Transcript());
        }
    }

    private static async Task<JsonElement> SecretAsync(SiloProcess silo)
    {
        using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/webhooks/secret", Key));
        return await response.JsonAsync();
    }
}
