using System.Text.Json.Nodes;
using Cluster.Client.Api;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.UnitTests.Client;

public class WorkerConnectionTests
{
    private FakeSilo _silo = null!;

    [SetUp]
    public void StartSilo() => _silo = new FakeSilo();

    [TearDown]
    public void StopSilo() => _silo.Dispose();

    private static RegisterFrame Registration(string workerId = "m1-gpu0") => new()
    {
        WorkerId = workerId, MachineId = "m1", GpuIndex = 0, GpuCount = 2, Concurrency = 1,
        Capabilities = new WorkerCapabilities { GpuMemory = 24, ModelTypes = ["sdxl"], Capabilities = ["text-to-image"], PoolType = "standard" },
    };

    [Test]
    public async Task Registering_sends_the_documented_register_frame_and_returns_the_silos_answer()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);

        var registered = await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());
        var register = await session.NextFrameAsync(TestJobs.Deadline());

        Assert.That(registered.WorkerId, Is.EqualTo("m1-gpu0"));
        Assert.That(registered.LeaseMs, Is.EqualTo(30_000));
        Assert.That(register["v"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(register["type"]!.GetValue<string>(), Is.EqualTo("register"));
        Assert.That(register["id"]!.GetValue<string>(), Is.Not.Empty);
        Assert.That(register["machine_id"]!.GetValue<string>(), Is.EqualTo("m1"));
        Assert.That(register["gpu_index"]!.GetValue<int>(), Is.EqualTo(0));
        Assert.That(register["gpu_count"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(register["capabilities"]!["model_types"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "sdxl" }));
        Assert.That(register["capabilities"]!["pool_type"]!.GetValue<string>(), Is.EqualTo("standard"));
    }

    [Test]
    public async Task An_assigned_job_arrives_and_its_progress_and_completion_are_acknowledged()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());
        await session.NextFrameAsync(TestJobs.Deadline());

        await session.SendAsync(FakeSilo.JobAssigned("job-1", new JsonObject { ["prompt"] = "a lighthouse" }, lease: "lease-9"));
        var assigned = (JobAssignedFrame)await connection.Pushes.ReadAsync(TestJobs.Deadline());
        await connection.ReportProgressAsync("job-1", assigned.LeaseToken, 50, "denoising", TestJobs.Deadline());
        await connection.CompleteAsync("job-1", assigned.LeaseToken, new JsonObject { ["image_url"] = "https://x/y.png" }, TestJobs.Deadline());

        Assert.That(assigned.Job.Id, Is.EqualTo("job-1"));
        Assert.That(assigned.Job.Payload!["prompt"]!.GetValue<string>(), Is.EqualTo("a lighthouse"));
        var progress = await session.NextFrameAsync(TestJobs.Deadline());
        Assert.That(progress["type"]!.GetValue<string>(), Is.EqualTo("progress"));
        Assert.That(progress["job_id"]!.GetValue<string>(), Is.EqualTo("job-1"));
        Assert.That(progress["lease_token"]!.GetValue<string>(), Is.EqualTo("lease-9"));
        Assert.That(progress["progress"]!.GetValue<double>(), Is.EqualTo(50));
        Assert.That(progress["message"]!.GetValue<string>(), Is.EqualTo("denoising"));
        var complete = await session.NextFrameAsync(TestJobs.Deadline());
        Assert.That(complete["type"]!.GetValue<string>(), Is.EqualTo("complete"));
        Assert.That(complete["result"]!["image_url"]!.GetValue<string>(), Is.EqualTo("https://x/y.png"));
    }

    [Test]
    public async Task A_fail_frame_carries_the_error_and_the_retryable_flag()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());
        await session.NextFrameAsync(TestJobs.Deadline());

        await connection.FailAsync("job-1", "lease-1", new JobError("COMMAND_FAILED", "exit 3"), retryable: false, TestJobs.Deadline());
        var fail = await session.NextFrameAsync(TestJobs.Deadline());

        Assert.That(fail["type"]!.GetValue<string>(), Is.EqualTo("fail"));
        Assert.That(fail["error"]!["code"]!.GetValue<string>(), Is.EqualTo("COMMAND_FAILED"));
        Assert.That(fail["retryable"]!.GetValue<bool>(), Is.False);
    }

    [Test]
    public async Task An_error_frame_answering_a_command_throws_with_its_code()
    {
        _silo.Reply = frame => frame["type"]?.GetValue<string>() == "complete"
            ? FakeSilo.ErrorReply(frame, "STALE_LEASE", "The lease is no longer valid")
            : _silo.DefaultReply(frame);
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());

        var refusal = Assert.ThrowsAsync<WorkerProtocolException>(() => connection.CompleteAsync("job-1", "old-lease", null, TestJobs.Deadline()));

        Assert.That(refusal!.Code, Is.EqualTo("STALE_LEASE"));
        Assert.That(refusal.Message, Is.EqualTo("The lease is no longer valid"));
    }

    [Test]
    public async Task A_refused_registration_throws_with_the_silos_code()
    {
        _silo.Reply = frame => FakeSilo.ErrorReply(frame, "VALIDATION_ERROR", "machine_id unknown is refused");
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);

        var refusal = Assert.ThrowsAsync<WorkerProtocolException>(() => connection.ConnectAsync(Registration(), TestJobs.Deadline()));

        Assert.That(refusal!.Code, Is.EqualTo("VALIDATION_ERROR"));
    }

    [Test]
    public async Task A_pushed_job_without_a_status_reads_as_assigned_and_unreadable_frames_arrive_as_errors_on_a_connection_that_goes_on()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());

        var withoutStatus = FakeSilo.JobAssigned("job-1");
        withoutStatus["job"]!.AsObject().Remove("status");
        var nullStatus = FakeSilo.JobAssigned("job-2");
        nullStatus["job"]!["status"] = null;
        await session.SendAsync(withoutStatus);
        await session.SendAsync(nullStatus);
        await session.SendTextAsync("{not json");
        await session.SendTextAsync("""{"v":1,"type":"\uD800"}"""); // valid UTF-8, but a lone surrogate no string can hold
        await session.SendAsync(FakeSilo.JobAssigned("job-3"));

        var pushes = new List<WorkerFrame>();
        for (var i = 0; i < 5; i++) pushes.Add(await connection.Pushes.ReadAsync(TestJobs.Deadline()));

        var assigned = pushes.OfType<JobAssignedFrame>().Select(a => (a.Job.Id, a.Job.Status));
        Assert.That(assigned, Is.EqualTo(new[] { ("job-1", JobStatus.Assigned), ("job-2", JobStatus.Assigned), ("job-3", JobStatus.Assigned) }));
        Assert.That(pushes.OfType<ErrorFrame>().Select(e => e.Error.Code), Is.EqualTo(new[] { "INVALID_FRAME", "INVALID_FRAME" }));
    }

    [Test]
    public async Task A_refusal_without_an_error_body_fails_the_command_at_once()
    {
        _silo.Reply = frame => frame["type"]?.GetValue<string>() == "complete"
            ? new JsonObject { ["v"] = 1, ["type"] = "error", ["ack"] = frame["id"]!.GetValue<string>() }
            : _silo.DefaultReply(frame);
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());

        var refusal = Assert.ThrowsAsync<WorkerProtocolException>(() => connection.CompleteAsync("job-1", "lease", null, TestJobs.Deadline()));

        Assert.That(refusal!.Code, Is.EqualTo("ERROR"));
    }

    [Test]
    public async Task A_revoked_job_arrives_as_a_revocation()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());

        await session.SendAsync(new JsonObject { ["v"] = 1, ["type"] = "job_revoked", ["job_id"] = "job-1", ["reason"] = "cancelled" });
        var revoked = (JobRevokedFrame)await connection.Pushes.ReadAsync(TestJobs.Deadline());

        Assert.That(revoked.JobId, Is.EqualTo("job-1"));
        Assert.That(revoked.Reason, Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task Heartbeats_go_out_at_the_interval_the_silo_asks_for()
    {
        _silo.HeartbeatMs = 20;
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());

        // NextFrameAsync skips heartbeats, so count the raw frames. Three within 5 s is impossible at the
        // client's own 10 s default: only the silo's 20 ms gets there.
        var heartbeats = 0;
        await Cluster.Testing.Eventually.HoldsAsync(
            () => Task.FromResult(heartbeats += session.Drain().Count(f => f["type"]!.GetValue<string>() == "heartbeat")),
            count => count >= 3, TimeSpan.FromSeconds(5), "three heartbeats at the silo's 20 ms interval");

        Assert.That(heartbeats, Is.GreaterThanOrEqualTo(3));
    }

    [Test]
    public async Task When_the_silo_drops_the_connection_pushes_end_and_waiting_commands_fail()
    {
        _silo.Reply = frame => frame["type"]?.GetValue<string>() == "complete" ? null : _silo.DefaultReply(frame);
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());
        await session.NextFrameAsync(TestJobs.Deadline());

        var completion = connection.CompleteAsync("job-1", "lease-1", null, TestJobs.Deadline());
        await session.NextFrameAsync(TestJobs.Deadline());
        session.Abort();

        Assert.That(async () => await completion, Throws.InstanceOf<WorkerConnectionClosedException>());
        await connection.Closed.WaitAsync(TestJobs.Deadline());
        Assert.That(connection.Pushes.Completion.IsCompleted, Is.True);
    }

    [Test]
    public async Task A_wrong_api_key_is_refused_as_unauthorized()
    {
        await using var connection = new WorkerConnection(_silo.Address, "wrong-key");

        var refusal = Assert.ThrowsAsync<ClusterApiException>(() => connection.ConnectAsync(Registration(), TestJobs.Deadline()));

        Assert.That(refusal!.StatusCode, Is.EqualTo(401));
        Assert.That(refusal.Code, Is.EqualTo("UNAUTHORIZED"));
    }

    [Test]
    public async Task A_result_larger_than_the_frame_limit_is_refused_before_it_is_sent()
    {
        await using var connection = new WorkerConnection(_silo.Address, FakeSilo.ApiKey);
        await connection.ConnectAsync(Registration(), TestJobs.Deadline());
        var huge = new JsonObject { ["blob"] = new string('x', WorkerConnection.MaxFrameBytes) };

        var refusal = Assert.ThrowsAsync<WorkerProtocolException>(() => connection.CompleteAsync("job-1", "lease-1", huge, TestJobs.Deadline()));

        Assert.That(refusal!.Code, Is.EqualTo("FRAME_TOO_LARGE"));
    }

    [TestCase("http://silo:5000", "ws://silo:5000/ws/worker")]
    [TestCase("https://silo.example/", "wss://silo.example/ws/worker")]
    [TestCase("http://proxy/cluster/", "ws://proxy/cluster/ws/worker")]
    public void The_socket_address_follows_from_the_silos_address(string silo, string expected)
    {
        Assert.That(WorkerConnection.EndpointFor(new Uri(silo)), Is.EqualTo(new Uri(expected)));
    }
}
