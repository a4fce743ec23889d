using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Jobs;

public sealed class WorkerAndMachineTests : GrainTestBase
{
    private static readonly WorkerCapabilities Caps = new() { GpuMemory = 24, Capabilities = ["text-to-image"] };
    private static readonly TimeSpan ShortLease = TimeSpan.FromMilliseconds(300);

    protected override ClusterGrainOptions Options => new()
    {
        Lease = ShortLease,
        WorkerTimeout = TimeSpan.FromMilliseconds(300),
        RetryBackoff = TimeSpan.FromMilliseconds(10),
    };

    private Task RegisterAsync(string worker, string machine = "gpu-box-1", int concurrency = 1) =>
        Grains.Worker(worker).RegisterAsync(new WorkerRegistration
        {
            WorkerId = worker, MachineId = machine, Host = "10.0.0.7", GpuCount = 2, Concurrency = concurrency, Capabilities = Caps,
        });

    private Task<SubmittedJob> SubmitAsync() =>
        Grains.Jobs.SubmitAsync(new JobSubmission { Type = "text-to-image", Payload = new JsonObject { ["prompt"] = "p" } });

    [TestCase("")]
    [TestCase("unknown")]
    public void A_worker_without_a_real_machine_id_is_refused(string machineId)
    {
        var refused = Assert.ThrowsAsync<ClusterException>(() => RegisterAsync("w1", machineId));
        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.MachineIdRequired));
    }

    [Test]
    public async Task A_worker_holds_no_more_jobs_than_its_concurrency()
    {
        await RegisterAsync("w1", concurrency: 2);
        for (var i = 0; i < 3; i++) await SubmitAsync();

        var claims = new List<JobAssignment?>();
        for (var i = 0; i < 3; i++) claims.Add(await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, TimeSpan.FromSeconds(30)));

        Assert.That(claims.Count(c => c is not null), Is.EqualTo(2));
        var worker = await Grains.Worker("w1").GetAsync();
        Assert.That(worker!.Active, Is.EqualTo(2));
        Assert.That(worker.Status, Is.EqualTo(WorkerStatus.Busy));
    }

    [Test]
    public async Task An_expired_lease_puts_the_job_back_for_another_worker_and_fences_out_the_first()
    {
        var submitted = await SubmitAsync();
        var first = await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, ShortLease);

        var second = await Eventually.HoldsAsync(async () =>
        {
            await Grains.SweepAsync();
            return await Grains.Jobs.ClaimAsync("w2", "gpu-box-2", Caps, TimeSpan.FromSeconds(30));
        }, a => a is not null, because: "the sweeper returns the job once its lease expires");

        Assert.That(second!.Job.Id, Is.EqualTo(submitted.JobId));
        Assert.That(second.Job.Error!.Code, Is.EqualTo("LEASE_EXPIRED"));
        var stale = Assert.ThrowsAsync<ClusterException>(() => Grains.Job(submitted.JobId).CompleteAsync(first!.LeaseToken, null));
        Assert.That(stale!.Code, Is.EqualTo(ErrorCodes.StaleLease));
        Assert.That(await Grains.Job(submitted.JobId).CompleteAsync(second.LeaseToken, null), Is.True);
    }

    [Test]
    public async Task A_job_running_past_its_timeout_is_failed_with_TIMEOUT_and_tried_again()
    {
        var submitted = await Grains.Jobs.SubmitAsync(new JobSubmission { Type = "text-to-image", Payload = new JsonObject(), TimeoutMs = 200, MaxRetries = 1 });
        var first = await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, TimeSpan.FromMinutes(5));

        var retried = await Eventually.HoldsAsync(async () =>
        {
            await Grains.SweepAsync();
            return await Grains.Jobs.ClaimAsync("w2", "gpu-box-2", Caps, TimeSpan.FromMinutes(5));
        }, a => a is not null, because: "the sweeper fails the attempt once its timeout passes, and the retry becomes claimable");

        Assert.That(first!.Job.Id, Is.EqualTo(submitted.JobId));
        Assert.That(retried!.Job.Id, Is.EqualTo(submitted.JobId));
        Assert.That(retried.Job.Error!.Code, Is.EqualTo("TIMEOUT"));
        Assert.That(retried.Job.RetryCount, Is.EqualTo(1));
        var stale = Assert.ThrowsAsync<ClusterException>(() => Grains.Job(submitted.JobId).CompleteAsync(first.LeaseToken, null));
        Assert.That(stale!.Code, Is.EqualTo(ErrorCodes.StaleLease));
    }

    [Test]
    public async Task Heartbeats_keep_a_lease_alive_past_its_first_expiry()
    {
        await RegisterAsync("w1");
        var submitted = await SubmitAsync();
        var assignment = await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, ShortLease);

        // Renew well inside the lease for longer than several leases, sweeping all the while.
        var until = DateTime.UtcNow + ShortLease * 4;
        while (DateTime.UtcNow < until)
        {
            Assert.That(await Grains.Worker("w1").HeartbeatAsync(ShortLease), Does.Contain(submitted.JobId));
            await Grains.SweepAsync();
            await Task.Delay(ShortLease / 6);
        }

        Assert.That(await Grains.Job(submitted.JobId).CompleteAsync(assignment!.LeaseToken, null), Is.True);
    }

    [Test]
    public async Task A_worker_whose_heartbeat_lapses_goes_offline_and_its_jobs_return()
    {
        await RegisterAsync("w1");
        var submitted = await SubmitAsync();
        await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, TimeSpan.FromSeconds(30));

        await Eventually.HoldsAsync(async () =>
        {
            await Grains.SweepAsync();
            return await Grains.Worker("w1").GetAsync();
        }, w => w!.Status == WorkerStatus.Offline, because: "the worker stops heartbeating");

        var job = await Eventually.HoldsAsync(() => Grains.Job(submitted.JobId).GetAsync(), j => j!.Status is JobStatus.Pending or JobStatus.Delayed);
        Assert.That(job!.Error!.Code, Is.EqualTo("WORKER_LOST"));
        var machine = await Grains.Machine("gpu-box-1").GetAsync();
        Assert.That(machine!.Status, Is.EqualTo(MachineStatus.Offline));
        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Worker("w1").HeartbeatAsync(ShortLease));
        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.WorkerOffline));
    }

    [Test]
    public async Task Registering_again_after_a_restart_keeps_the_machine_and_returns_the_old_jobs()
    {
        await RegisterAsync("w1");
        var submitted = await SubmitAsync();
        await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, TimeSpan.FromSeconds(30));

        await RegisterAsync("w1");

        var worker = await Grains.Worker("w1").GetAsync();
        Assert.That(worker!.MachineId, Is.EqualTo("gpu-box-1"));
        Assert.That(worker.Active, Is.Zero);
        var job = await Grains.Job(submitted.JobId).GetAsync();
        Assert.That(job!.Status, Is.AnyOf(JobStatus.Pending, JobStatus.Delayed));
        Assert.That(job.Error!.Code, Is.EqualTo("WORKER_RESTARTED"));
    }

    [Test]
    public async Task A_machine_status_follows_its_workers()
    {
        await RegisterAsync("w1");
        await RegisterAsync("w2");
        Assert.That((await Grains.Machine("gpu-box-1").GetAsync())!.Status, Is.EqualTo(MachineStatus.Ready));

        await SubmitAsync();
        await SubmitAsync();
        await Grains.Jobs.ClaimAsync("w1", "gpu-box-1", Caps, TimeSpan.FromSeconds(30));
        await Grains.Jobs.ClaimAsync("w2", "gpu-box-1", Caps, TimeSpan.FromSeconds(30));
        var busy = await Grains.Machine("gpu-box-1").GetAsync();

        await Grains.Worker("w2").UnregisterAsync("shutting down");
        var degraded = await Grains.Machine("gpu-box-1").GetAsync();

        Assert.That(busy!.Status, Is.EqualTo(MachineStatus.Busy));
        Assert.That(busy.Workers.Select(w => w.Id), Is.EqualTo(new[] { "w1", "w2" }));
        Assert.That(busy.GpuCount, Is.EqualTo(2));
        Assert.That(busy.Host, Is.EqualTo("10.0.0.7"));
        Assert.That(degraded!.Status, Is.EqualTo(MachineStatus.Degraded));
    }

    [Test]
    public async Task Registering_and_leaving_are_events_on_the_workers_and_machines_topics()
    {
        await RegisterAsync("w1");
        await RegisterAsync("w2");
        await Grains.Worker("w1").UnregisterAsync("shutting down");

        var workers = await Redis.ReadStreamAsync("events:workers");
        var machines = await Redis.ReadStreamAsync("events:machines");

        Assert.That(workers.Select(e => (e.Type, e["worker_id"], e["machine_id"], e["status"], e["reason"])), Is.EqualTo(new (string, string?, string?, string?, string?)[]
        {
            ("worker_registered", "w1", "gpu-box-1", "idle", null),
            ("worker_registered", "w2", "gpu-box-1", "idle", null),
            ("worker_offline", "w1", "gpu-box-1", null, "shutting down"),
        }));
        Assert.That(workers[0].Fields.Keys, Is.EqualTo(new[] { "type", "worker_id", "machine_id", "status" }), "flat, in the order of seed 001's fields");
        Assert.That(machines.Select(e => (e.Type, e["machine_id"])), Is.EqualTo(new[] { ("machine_registered", (string?)"gpu-box-1") }));
    }

    [Test]
    public async Task Machines_are_paginated_in_id_order_and_can_be_picked_by_id()
    {
        for (var i = 0; i < 5; i++) await RegisterAsync($"w{i}", $"machine-{i}");

        var first = await Grains.Fleet.ListMachinesAsync(null, 2);
        var second = await Grains.Fleet.ListMachinesAsync(first.NextCursor, 2);
        var last = await Grains.Fleet.ListMachinesAsync(second.NextCursor, 2);
        var picked = await Grains.Fleet.ListMachinesAsync(null, 10, ["machine-3", "machine-1"]);

        Assert.That(first.Items.Select(m => m.Id), Is.EqualTo(new[] { "machine-0", "machine-1" }));
        Assert.That(second.Items.Select(m => m.Id), Is.EqualTo(new[] { "machine-2", "machine-3" }));
        Assert.That(last.Items.Select(m => m.Id), Is.EqualTo(new[] { "machine-4" }));
        Assert.That(last.NextCursor, Is.Null);
        Assert.That(picked.Items.Select(m => m.Id), Is.EqualTo(new[] { "machine-1", "machine-3" }));
    }
}
