using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.IntegrationTests.Jobs;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Workers;

/// <summary>
/// The Orleans worker, machine and sweeper grains on their own: jobs are given to a worker by assigning them through
/// their job grains (as the queue does), so these pin the holds the job grains report, the heartbeats that renew
/// them, and what the sweeper does for grains whose timers are gone. WorkerAndMachineTests pins the same through the grain factory.
/// </summary>
public sealed class WorkerGrainTests : GrainTestBase
{
    private static readonly WorkerCapabilities Caps = new() { GpuMemory = 24, Capabilities = ["text-to-image"] };
    private static readonly TimeSpan ShortLease = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan LongLease = TimeSpan.FromSeconds(30);

    protected override ClusterGrainOptions Options => new()
    {
        Lease = ShortLease,
        WorkerTimeout = TimeSpan.FromMilliseconds(300),
        RetryBackoff = TimeSpan.FromMilliseconds(10),
        SweepInterval = TimeSpan.FromHours(1), // each test sweeps when it means to, and counts what its sweeps did
    };

    private Task<int> RegisterAsync(string worker, string machine = "gpu-box-1", int concurrency = 1) =>
        Grains.Worker(worker).RegisterAsync(new WorkerRegistration
        {
            WorkerId = worker, MachineId = machine, Host = "10.0.0.7", GpuCount = 2, Concurrency = concurrency, Capabilities = Caps,
        });

    /// <summary>A new pending job assigned to <paramref name="worker"/> through its grain, as the queue assigns one.</summary>
    private async Task<JobAssignment> AssignedJobAsync(string worker, TimeSpan lease, string machine = "gpu-box-1")
    {
        var id = "job-" + Guid.NewGuid().ToString("N")[..12];
        var job = Cluster.Client.GetGrain<IJobControlGrain>(id);
        await job.CreateAsync(new JobSubmission { Type = "text-to-image", Payload = new JsonObject(), MaxRetries = 3 }, JobPlacement.Alone);
        return await job.AssignAsync(worker, machine, Guid.NewGuid().ToString("N"), lease) ?? throw new AssertionException("not assigned");
    }

    private Task<WorkerState?> WorkerAsync(string worker) => Grains.Worker(worker).GetAsync();

    /// <summary>Deactivates every idle grain, their timers with them: what the cluster holds in memory is gone, as when a silo dies.</summary>
    private Task ForgetActivationsAsync() =>
        Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.FromMilliseconds(1));

    [Test]
    public async Task A_registered_worker_is_online_in_the_shared_indexes_and_its_machine_exists()
    {
        var returned = await RegisterAsync("w1");

        var worker = await WorkerAsync("w1");
        var machine = await Grains.Machine("gpu-box-1").GetAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(returned, Is.Zero);
            Assert.That(worker!.Status, Is.EqualTo(WorkerStatus.Idle));
            Assert.That(worker.MachineId, Is.EqualTo("gpu-box-1"));
            Assert.That(worker.Capabilities!.Capabilities, Is.EqualTo(new[] { "text-to-image" }));
            Assert.That(worker.LastHeartbeat, Is.Not.Null);
            Assert.That(await Redis.SortedSetScoreAsync("workers", "w1"), Is.Zero);
            Assert.That(await Redis.SortedSetScoreAsync("workers:heartbeats", "w1"), Is.Not.Null);
            Assert.That(await Redis.SortedSetScoreAsync("machines", "gpu-box-1"), Is.Zero);
            Assert.That(machine!.Status, Is.EqualTo(MachineStatus.Ready));
            Assert.That(machine.Workers.Select(w => w.Id), Is.EqualTo(new[] { "w1" }));
            Assert.That(machine.LastSeen, Is.EqualTo(worker.LastHeartbeat));
            Assert.That(await Grains.Worker("nobody").GetAsync(), Is.Null);
            Assert.That(await Grains.Machine("nowhere").GetAsync(), Is.Null);
        }
    }

    [Test]
    public void An_unknown_worker_cannot_heartbeat_or_unregister()
    {
        Assert.That(Assert.ThrowsAsync<ClusterException>(() => Grains.Worker("nobody").HeartbeatAsync(ShortLease))!.Code, Is.EqualTo(ErrorCodes.WorkerNotFound));
        Assert.That(Assert.ThrowsAsync<ClusterException>(() => Grains.Worker("nobody").UnregisterAsync("bye"))!.Code, Is.EqualTo(ErrorCodes.WorkerNotFound));
    }

    [Test]
    public async Task A_job_assigned_to_a_worker_is_held_until_its_job_ends_the_hold()
    {
        await RegisterAsync("w1", concurrency: 2);
        var first = await AssignedJobAsync("w1", LongLease);
        var second = await AssignedJobAsync("w1", LongLease);

        var busy = await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 2);
        await Grains.Job(first.Job.Id).CompleteAsync(first.LeaseToken, null);
        await Grains.Job(second.Job.Id).CancelAsync("not needed");
        var idle = await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(busy!.Status, Is.EqualTo(WorkerStatus.Busy));
            Assert.That(busy.CurrentJobId, Is.EqualTo(second.Job.Id));
            Assert.That(idle!.Status, Is.EqualTo(WorkerStatus.Idle));
            Assert.That(idle.CurrentJobId, Is.Null);
            Assert.That(await Grains.Worker("w1").HeartbeatAsync(ShortLease), Is.Empty);
        }
    }

    [Test]
    public async Task Heartbeats_renew_the_held_leases_past_their_first_expiry()
    {
        await RegisterAsync("w1");
        var assignment = await AssignedJobAsync("w1", ShortLease);
        await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 1);

        var until = DateTime.UtcNow + ShortLease * 4;
        while (DateTime.UtcNow < until)
        {
            Assert.That(await Grains.Worker("w1").HeartbeatAsync(ShortLease), Is.EqualTo(new[] { assignment.Job.Id }));
            await Grains.SweepAsync();
            await Task.Delay(ShortLease / 6);
        }

        Assert.That(await Grains.Job(assignment.Job.Id).CompleteAsync(assignment.LeaseToken, null), Is.True);
    }

    [Test]
    public async Task A_worker_whose_heartbeat_lapses_is_declared_offline_by_the_sweeper_and_its_jobs_return_as_WORKER_LOST()
    {
        await RegisterAsync("w1");
        var assignment = await AssignedJobAsync("w1", LongLease);
        await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 1);

        var swept = await Eventually.HoldsAsync(() => Grains.SweepAsync(), s => s.WorkersLost == 1, because: "the worker stops heartbeating");

        var worker = await WorkerAsync("w1");
        var job = await Grains.Job(assignment.Job.Id).GetAsync();
        var machine = await Grains.Machine("gpu-box-1").GetAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(swept.ExpiredLeases, Is.Zero);
            Assert.That(worker!.Status, Is.EqualTo(WorkerStatus.Offline));
            Assert.That(worker.Active, Is.Zero);
            Assert.That(job!.Status, Is.AnyOf(JobStatus.Pending, JobStatus.Delayed));
            Assert.That(job.Error!.Code, Is.EqualTo("WORKER_LOST"));
            Assert.That(machine!.Status, Is.EqualTo(MachineStatus.Offline));
            Assert.That(await Redis.SortedSetScoreAsync("workers:heartbeats", "w1"), Is.Null);
            Assert.That(Assert.ThrowsAsync<ClusterException>(() => Grains.Worker("w1").HeartbeatAsync(ShortLease))!.Code, Is.EqualTo(ErrorCodes.WorkerOffline));
        }
    }

    [Test]
    public async Task A_heartbeating_worker_stays_online_though_its_stored_heartbeat_lags()
    {
        await RegisterAsync("w1");

        var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(300) * 4;
        while (DateTime.UtcNow < until)
        {
            await Grains.Worker("w1").HeartbeatAsync(ShortLease);
            Assert.That((await Grains.SweepAsync()).WorkersLost, Is.Zero);
            await Task.Delay(50);
        }

        Assert.That((await WorkerAsync("w1"))!.Status, Is.EqualTo(WorkerStatus.Idle));
    }

    [Test]
    public async Task Registering_again_returns_the_held_jobs_as_WORKER_RESTARTED_and_another_machine_takes_the_worker()
    {
        await RegisterAsync("w1");
        var assignment = await AssignedJobAsync("w1", LongLease);
        await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 1);

        var returned = await RegisterAsync("w1", "gpu-box-2");

        var job = await Grains.Job(assignment.Job.Id).GetAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(returned, Is.EqualTo(1));
            Assert.That((await WorkerAsync("w1"))!.Active, Is.Zero);
            Assert.That(job!.Error!.Code, Is.EqualTo("WORKER_RESTARTED"));
            Assert.That((await Grains.Machine("gpu-box-1").GetAsync())!.Workers, Is.Empty);
            Assert.That((await Grains.Machine("gpu-box-2").GetAsync())!.Workers.Select(w => w.Id), Is.EqualTo(new[] { "w1" }));
        }
        var stale = Assert.ThrowsAsync<ClusterException>(() => Grains.Job(assignment.Job.Id).CompleteAsync(assignment.LeaseToken, null));
        Assert.That(stale!.Code, Is.EqualTo(ErrorCodes.StaleLease));
    }

    [Test]
    public async Task A_job_assigned_to_an_offline_worker_is_handed_back_at_once()
    {
        await RegisterAsync("w1");
        await Grains.Worker("w1").UnregisterAsync("shutting down");

        var assignment = await AssignedJobAsync("w1", LongLease);

        var job = await Eventually.HoldsAsync(() => Grains.Job(assignment.Job.Id).GetAsync(), j => j!.Status is JobStatus.Pending or JobStatus.Delayed);
        Assert.That(job!.Error!.Code, Is.EqualTo("WORKER_LOST"));
    }

    [Test]
    public async Task A_hold_whose_claim_never_answered_is_handed_out_by_the_workers_next_claim()
    {
        await RegisterAsync("w1");
        var worker = Cluster.Client.GetGrain<IWorkerControlGrain>("w1");
        // Assigned as the queue assigns it, the answer lost on its way back (its silo died): only the job's word reached the worker.
        var assignment = await AssignedJobAsync("w1", LongLease);

        var handedOut = await worker.ClaimAsync("", Caps, LongLease);
        var next = await worker.ClaimAsync("", Caps, LongLease);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(handedOut?.Job.Id, Is.EqualTo(assignment.Job.Id));
            Assert.That(handedOut?.LeaseToken, Is.EqualTo(assignment.LeaseToken), "the hold the job granted, not a new one");
            Assert.That(handedOut?.Job.Status, Is.EqualTo(JobStatus.Assigned));
            Assert.That(next, Is.Null, "handed out once, and the worker's one slot is taken");
        }
    }

    [Test]
    public async Task A_heartbeat_takes_back_a_hold_the_worker_grain_forgot_while_the_job_still_grants_it()
    {
        // Assigned before the worker registered: the job is the worker's, its grain knows nothing of it, as when the
        // activation that took the hold died with its silo before writing it.
        var assignment = await AssignedJobAsync("w1", LongLease);
        await RegisterAsync("w1");

        var forgotten = await Grains.Worker("w1").HeartbeatAsync(LongLease);
        var named = await Grains.Worker("w1").HeartbeatAsync(LongLease, new Dictionary<string, string>
        {
            [assignment.Job.Id] = assignment.LeaseToken,
            ["job-that-never-was"] = "no-lease",
        });
        var worker = await WorkerAsync("w1");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(forgotten, Is.Empty);
            Assert.That(named, Is.EqualTo(new[] { assignment.Job.Id }), "the hold its job grants is kept, the other dropped");
            Assert.That(worker!.Active, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task The_sweeper_returns_a_job_whose_grain_left_memory_with_its_lease_timer()
    {
        var assignment = await AssignedJobAsync("w9", ShortLease);
        await ForgetActivationsAsync();

        var swept = await Eventually.HoldsAsync(() => Grains.SweepAsync(), s => s.ExpiredLeases == 1, because: "the lease runs out with no timer left to see it");

        var job = await Grains.Job(assignment.Job.Id).GetAsync();
        Assert.That(swept.WorkersLost, Is.Zero);
        Assert.That(job!.Error!.Code, Is.EqualTo("LEASE_EXPIRED"));
    }

    [Test]
    public async Task The_sweeper_declares_a_worker_offline_whose_grain_left_memory_and_returns_its_stored_jobs()
    {
        await RegisterAsync("w1");
        var assignment = await AssignedJobAsync("w1", LongLease);
        await Eventually.HoldsAsync(() => WorkerAsync("w1"), w => w!.Active == 1);
        await ForgetActivationsAsync();

        await Eventually.HoldsAsync(() => Grains.SweepAsync(), s => s.WorkersLost == 1, because: "the stored heartbeat ages past the timeout");

        var job = await Grains.Job(assignment.Job.Id).GetAsync();
        Assert.That((await WorkerAsync("w1"))!.Status, Is.EqualTo(WorkerStatus.Offline));
        Assert.That(job!.Error!.Code, Is.EqualTo("WORKER_LOST"));
    }
}

/// <summary>The sweeper at work without anyone asking: started with the silo, it sweeps every interval.</summary>
public sealed class SweeperTimerTests : GrainTestBase
{
    protected override ClusterGrainOptions Options => new()
    {
        WorkerTimeout = TimeSpan.FromMilliseconds(300),
        SweepInterval = TimeSpan.FromMilliseconds(100),
    };

    [Test]
    public async Task A_silent_worker_goes_offline_with_no_sweep_asked_for()
    {
        await Grains.Worker("w1").RegisterAsync(new WorkerRegistration { WorkerId = "w1", MachineId = "gpu-box-1" });

        var worker = await Eventually.HoldsAsync(() => Grains.Worker("w1").GetAsync(), w => w!.Status == WorkerStatus.Offline, because: "the sweeper's timer finds the lapsed heartbeat");

        Assert.That(worker!.Active, Is.Zero);
        Assert.That(await Redis.SortedSetScoreAsync("workers:heartbeats", "w1"), Is.Null);
    }
}
