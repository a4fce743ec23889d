using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>The worker protocol on /ws/worker, frame by frame, against a real silo.</summary>
public sealed class WorkerProtocolTests
{
    private const string Key = "e2e-worker-admin-key-0123456789abcdef";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings { BootstrapApiKey = Key });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private static string UniqueCapability() => "cap-" + Guid.NewGuid().ToString("N")[..12];

    private Task<string> SubmitAsync(string capability, int priority = 50) =>
        _silo.SubmitAsync(Key, new { type = "simulation", priority, requirements = new { capabilities = new[] { capability } } });

    private async Task<JsonElement> StatusAsync(string id)
    {
        using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, $"/api/jobs/{id}/status", Key));
        return (await response.JsonAsync()).GetProperty("job");
    }

    private async Task<RawWorker> RegisteredWorkerAsync(string capability, string? workerId = null, int concurrency = 1)
    {
        var worker = await RawWorker.ConnectAsync(_silo, Key);
        var registered = await worker.RegisterAsync(workerId ?? "w-" + Guid.NewGuid().ToString("N")[..8], "m-" + capability, RawWorker.Capabilities(capability), concurrency);
        Assert.That(RawWorker.Text(registered["type"]), Is.EqualTo("registered"), registered.ToJsonString());
        return worker;
    }

    [Test]
    public async Task A_job_submitted_after_a_worker_registered_is_pushed_to_it_and_completed_with_its_token()
    {
        var capability = UniqueCapability();
        await using var worker = await RegisteredWorkerAsync(capability);

        var id = await SubmitAsync(capability);
        var assigned = await worker.NextAssignmentAsync();
        var token = RawWorker.Text(assigned["lease_token"]);
        var progress = await worker.CommandAsync(new JsonObject { ["type"] = "progress", ["job_id"] = id, ["lease_token"] = token, ["progress"] = 40, ["message"] = "halfway" });
        var running = await StatusAsync(id);
        var complete = await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = token, ["result"] = new JsonObject { ["ok"] = true } });

        Assert.That(RawWorker.Text(assigned["job"]!["id"]), Is.EqualTo(id));
        Assert.That(RawWorker.Text(progress["type"]), Is.EqualTo("ack"));
        Assert.That(running.GetProperty("status").GetString(), Is.EqualTo("running"));
        Assert.That(running.GetProperty("progress").GetDouble(), Is.EqualTo(40));
        Assert.That(RawWorker.Text(complete["type"]), Is.EqualTo("ack"));
        var done = await StatusAsync(id);
        Assert.That(done.GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(done.GetProperty("result").GetProperty("ok").GetBoolean(), Is.True);
    }

    [Test]
    public async Task Higher_priority_jobs_are_pushed_first_and_equal_priorities_in_order()
    {
        var capability = UniqueCapability();
        var low1 = await SubmitAsync(capability, 10);
        var low2 = await SubmitAsync(capability, 10);
        var high = await SubmitAsync(capability, 90);
        await using var worker = await RegisteredWorkerAsync(capability);

        var order = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var assigned = await worker.NextAssignmentAsync();
            var id = RawWorker.Text(assigned["job"]!["id"]);
            order.Add(id);
            await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = assigned["lease_token"]!.DeepClone() });
        }

        Assert.That(order, Is.EqualTo(new[] { high, low1, low2 }));
    }

    [Test]
    public async Task A_wrong_lease_token_is_refused_and_changes_nothing()
    {
        var capability = UniqueCapability();
        await using var worker = await RegisteredWorkerAsync(capability);
        var id = await SubmitAsync(capability);
        await worker.NextAssignmentAsync();

        var refused = await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = "stolen", ["result"] = 1 });

        Assert.That(RawWorker.Text(refused["error"]?["code"]), Is.EqualTo("STALE_LEASE"));
        Assert.That((await StatusAsync(id)).GetProperty("status").GetString(), Is.EqualTo("assigned"));
    }

    [Test]
    public async Task Malformed_frames_get_error_frames_and_the_connection_stays_open()
    {
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);

        await worker.SendTextAsync("this is not json");
        var notJson = await worker.ReceiveAsync(f => RawWorker.Text(f["type"]) == "error");
        var early = await worker.CommandAsync(new JsonObject { ["type"] = "heartbeat" });
        var version = await worker.CommandAsync(new JsonObject { ["v"] = 2, ["type"] = "heartbeat" });
        var unknown = await worker.CommandAsync(new JsonObject { ["type"] = "teleport" });
        var wrongTypes = await worker.CommandAsync(new JsonObject { ["type"] = "register", ["worker_id"] = 5, ["machine_id"] = "m" });
        var unknownMachine = await worker.CommandAsync(new JsonObject { ["type"] = "register", ["worker_id"] = "w-unknown", ["machine_id"] = "unknown" });
        var registered = await worker.RegisterAsync("w-" + Guid.NewGuid().ToString("N")[..8], "m-ok", RawWorker.Capabilities(UniqueCapability()));
        var heartbeat = await worker.CommandAsync(new JsonObject { ["type"] = "heartbeat" });

        Assert.That(RawWorker.Text(notJson["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(RawWorker.Text(early["error"]!["code"]), Is.EqualTo("NOT_REGISTERED"));
        Assert.That(RawWorker.Text(version["error"]!["code"]), Is.EqualTo("UNSUPPORTED_VERSION"));
        Assert.That(RawWorker.Text(unknown["error"]!["code"]), Is.EqualTo("UNKNOWN_TYPE"));
        Assert.That(RawWorker.Text(wrongTypes["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(RawWorker.Text(unknownMachine["error"]!["code"]), Is.EqualTo("MACHINE_ID_REQUIRED"));
        Assert.That(RawWorker.Text(registered["type"]), Is.EqualTo("registered"));
        Assert.That(RawWorker.Text(heartbeat["type"]), Is.EqualTo("ack"));
    }

    [Test]
    public async Task A_worker_that_drops_mid_job_loses_it_to_another_worker_which_completes_it_once()
    {
        var capability = UniqueCapability();
        var first = await RegisteredWorkerAsync(capability);
        var id = await SubmitAsync(capability);
        var lost = await first.NextAssignmentAsync();
        first.Abort();
        await first.DisposeAsync();

        await using var second = await RegisteredWorkerAsync(capability);
        var assigned = await second.NextAssignmentAsync();
        var complete = await second.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = assigned["lease_token"]!.DeepClone() });

        Assert.That(RawWorker.Text(assigned["job"]!["id"]), Is.EqualTo(id));
        Assert.That(RawWorker.Text(assigned["lease_token"]), Is.Not.EqualTo(RawWorker.Text(lost["lease_token"])));
        Assert.That(RawWorker.Text(complete["type"]), Is.EqualTo("ack"));
        var job = await StatusAsync(id);
        Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("completed"));
        Assert.That(job.GetProperty("attempts").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public async Task Cancelling_a_job_a_worker_holds_revokes_it_and_frees_the_worker()
    {
        var capability = UniqueCapability();
        await using var worker = await RegisteredWorkerAsync(capability);
        var id = await SubmitAsync(capability);
        await worker.NextAssignmentAsync();

        using var cancel = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, $"/api/jobs/{id}/cancel", Key));
        var revoked = await worker.ReceiveAsync(f => RawWorker.Text(f["type"]) == "job_revoked");
        var next = await SubmitAsync(capability);
        var assigned = await worker.NextAssignmentAsync();

        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(RawWorker.Text(revoked["job_id"]), Is.EqualTo(id));
        Assert.That(RawWorker.Text(assigned["job"]!["id"]), Is.EqualTo(next));
    }

    [Test]
    public async Task A_worker_is_pushed_as_many_jobs_as_its_concurrency_and_shows_on_its_machine()
    {
        var capability = UniqueCapability();
        await using var worker = await RegisteredWorkerAsync(capability, "gpu-" + capability, concurrency: 2);
        var ids = new[] { await SubmitAsync(capability), await SubmitAsync(capability), await SubmitAsync(capability) };

        var a = await worker.NextAssignmentAsync();
        var b = await worker.NextAssignmentAsync();
        using var machine = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/machines/m-" + capability, Key));
        var body = await machine.JsonAsync();

        Assert.That(new[] { RawWorker.Text(a["job"]!["id"]), RawWorker.Text(b["job"]!["id"]) }, Is.EqualTo(ids[..2]));
        Assert.That((await StatusAsync(ids[2])).GetProperty("status").GetString(), Is.EqualTo("pending"));
        Assert.That(body.GetProperty("machine").GetProperty("status").GetString(), Is.EqualTo("busy"));
        Assert.That(body.GetProperty("machine").GetProperty("workers")[0].GetProperty("active").GetInt32(), Is.EqualTo(2));
    }
}
