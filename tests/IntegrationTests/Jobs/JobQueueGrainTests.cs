using System.Globalization;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.IntegrationTests.Orleans;
using Cluster.Testing;
using Orleans.TestingHost;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>
/// The job queue grain on a real redis-server: claims served own pool first, then priority, then first in, entries
/// the job grains took out by other paths skipped, and the whole queue rebuilt from <c>jobs:status:pending</c> by a new
/// activation (a fresh cluster on the same Redis and service id).
/// </summary>
public sealed class JobQueueGrainTests : GrainTestBase
{
    private static readonly WorkerCapabilities Sd = new() { GpuMemory = 24, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image", "upscale"] };
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private IJobQueueGrain Queue(TestCluster? cluster = null) => (cluster ?? Cluster).Client.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default);

    private async Task<string> CreateAsync(int priority = 50, JobRequirements? requirements = null, TestCluster? cluster = null, string? tenant = null)
    {
        var id = "job-" + Guid.NewGuid().ToString("N")[..12];
        var created = await (cluster ?? Cluster).Client.GetGrain<IJobControlGrain>(id).CreateAsync(new JobSubmission
        {
            Type = "text-to-image", Payload = new JsonObject(), Priority = priority, Requirements = requirements, Tenant = tenant,
        }, JobPlacement.Alone);
        Assert.That(created, Is.True);
        return id;
    }

    private async Task<string?> ClaimAsync(string worker = "w1", WorkerCapabilities? caps = null, TestCluster? cluster = null) =>
        (await Queue(cluster).ClaimAsync(worker, "m1", caps ?? Sd, Lease))?.Job.Id;

    [Test]
    public async Task A_claim_serves_the_workers_own_pool_first_then_higher_priority_then_first_in()
    {
        var first = await CreateAsync(priority: 10);
        var second = await CreateAsync(priority: 10);
        var urgent = await CreateAsync(priority: 90);
        var heavy = await CreateAsync(priority: 5, requirements: new() { PoolPreference = "heavy" });

        var heavyWorker = await ClaimAsync("heavy-1", Sd with { PoolType = "heavy" });
        var standard = new List<string?>();
        for (var i = 0; i < 3; i++) standard.Add(await ClaimAsync());

        Assert.That(heavyWorker, Is.EqualTo(heavy), "its own pool's job, though three of higher priority wait in another");
        Assert.That(standard, Is.EqualTo(new[] { urgent, first, second }));
        Assert.That(await ClaimAsync(), Is.Null);
        Assert.That(await Queue().CountAsync(), Is.Zero);
    }

    [Test]
    public async Task A_worker_is_given_only_jobs_whose_gpu_memory_model_and_capabilities_it_has()
    {
        await CreateAsync(priority: 99, requirements: new() { GpuMemory = 40 });
        await CreateAsync(priority: 98, requirements: new() { ModelType = "llm" });
        await CreateAsync(priority: 97, requirements: new() { Capabilities = ["upscale", "video"] });
        var servable = await CreateAsync(priority: 1, requirements: new() { GpuMemory = 24, ModelType = "stable-diffusion", Capabilities = ["upscale", "text-to-image"] });

        Assert.That(await ClaimAsync(), Is.EqualTo(servable));
        Assert.That(await ClaimAsync(), Is.Null);
        Assert.That(await Queue().CountAsync(), Is.EqualTo(3));
        Assert.That(await ClaimAsync("big", new() { GpuMemory = 80, ModelTypes = ["llm"], Capabilities = ["upscale", "video"] }), Is.Not.Null);
    }

    [Test]
    public async Task A_job_taken_out_by_another_path_is_skipped_and_the_next_one_claimed()
    {
        var assignedElsewhere = await CreateAsync(priority: 90);
        var cancelled = await CreateAsync(priority: 80);
        var next = await CreateAsync(priority: 10);
        await Cluster.Client.GetGrain<IJobControlGrain>(assignedElsewhere).AssignAsync("w0", "m0", "token", Lease);
        await Cluster.Client.GetGrain<IJobGrain>(cancelled).CancelAsync();

        Assert.That(await Queue().CountAsync(), Is.EqualTo(2), "the cancel removed its job; the assignment by another path left its entry");
        Assert.That(await ClaimAsync(), Is.EqualTo(next));
        Assert.That(await Queue().CountAsync(), Is.Zero, "the stale entry was dropped on the way");
        Assert.That((await Cluster.Client.GetGrain<IJobGrain>(assignedElsewhere).GetAsync())!.WorkerId, Is.EqualTo("w0"));
    }

    [Test]
    public async Task A_job_that_becomes_pending_again_is_queued_again()
    {
        var id = await CreateAsync();
        Assert.That(await ClaimAsync(), Is.EqualTo(id));
        await Cluster.Client.GetGrain<IJobGrain>(id).CancelAsync();
        Assert.That(await ClaimAsync(), Is.Null);

        await Cluster.Client.GetGrain<IJobGrain>(id).RetryAsync();

        Assert.That(await ClaimAsync(), Is.EqualTo(id));
    }

    [Test]
    public async Task A_queue_activated_on_a_new_cluster_rebuilds_every_pending_job_from_redis_in_claim_order()
    {
        // More than one rebuild batch, of mixed priorities and two pools, created in parallel.
        var created = await Task.WhenAll(Enumerable.Range(0, 1_100).Select(async i =>
        {
            var (priority, heavy) = (i % 7 * 10, i % 5 == 0);
            return (Id: await CreateAsync(priority, heavy ? new() { PoolPreference = "heavy" } : null), Priority: priority, Heavy: heavy);
        }));
        var jobs = created.ToDictionary(j => j.Id, StringComparer.Ordinal);
        var claimed = await ClaimAsync();
        await Cluster.Client.GetGrain<IJobGrain>(created.First(j => j.Id != claimed).Id).CancelAsync();
        var pending = await Redis.SortedSetRangeByRankWithScoresAsync("jobs:status:pending");
        var expected = pending
            .Select(p => (Job: jobs[p.Element.ToString()], Sequence: (long)p.Score))
            .OrderBy(j => j.Job.Heavy).ThenByDescending(j => j.Job.Priority).ThenBy(j => j.Sequence)
            .Select(j => j.Job.Id).ToList();
        var serviceId = Cluster.Options.ServiceId;
        await Cluster.StopAllSilosAsync();

        await using var restarted = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, serviceId: serviceId, timings: Options);
        var count = await Queue(restarted).CountAsync();
        var order = new List<string>();
        while (await ClaimAsync(cluster: restarted) is { } id) order.Add(id);

        Assert.That(expected, Has.Count.EqualTo(1_098));
        Assert.That(count, Is.EqualTo(1_098));
        Assert.That(order, Is.EqualTo(expected), "a standard worker: its own pool, then priority, then first in");
    }

    [Test]
    public async Task A_tenant_limited_to_two_running_jobs_gets_a_third_only_when_one_ends_and_the_count_survives_a_rebuild()
    {
        await using var limited = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, timings: Options, runningJobs: 2);
        var mine = new List<string>();
        for (var i = 0; i < 4; i++) mine.Add(await CreateAsync(cluster: limited, tenant: "u-a"));
        var other = await CreateAsync(cluster: limited, tenant: "u-b");
        var queue = Queue(limited);
        var held = new Dictionary<string, string>();
        async Task<string?> ClaimHeldAsync(string worker)
        {
            var assignment = await queue.ClaimAsync(worker, "m1", Sd, Lease);
            if (assignment is not null) held[assignment.Job.Id] = assignment.LeaseToken;
            return assignment?.Job.Id;
        }

        var first = new[] { await ClaimHeldAsync("w1"), await ClaimHeldAsync("w2"), await ClaimHeldAsync("w3"), await ClaimHeldAsync("w4") };

        Assert.That(first, Is.EqualTo(new[] { mine[0], other, mine[1], null }), "u-a's third waits while it runs two");
        Assert.That(await queue.TenantsAsync(), Is.EqualTo(new[] { new TenantJobs("u-a", 2, 2), new TenantJobs("u-b", 0, 1) }));

        Assert.That(await limited.Client.GetGrain<IJobGrain>(mine[0]).CompleteAsync(held[mine[0]], new JsonObject()), Is.True);
        var third = await Eventually.HoldsAsync(() => ClaimHeldAsync("w4"), id => id is not null, because: "the completed job's slot is freed");
        Assert.That(third, Is.EqualTo(mine[2]));
        Assert.That(await ClaimHeldAsync("w5"), Is.Null);

        // A new activation of the queue counts the held jobs again from Redis.
        var serviceId = limited.Options.ServiceId;
        await limited.StopAllSilosAsync();
        await using var restarted = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, serviceId: serviceId, timings: Options, runningJobs: 2);
        queue = Queue(restarted);
        Assert.That(await queue.ClaimAsync("w6", "m1", Sd, Lease), Is.Null, "u-a still runs two after the rebuild");
        Assert.That(await queue.TenantsAsync(), Is.EqualTo(new[] { new TenantJobs("u-a", 1, 2), new TenantJobs("u-b", 0, 1) }));

        await restarted.Client.GetGrain<IJobGrain>(mine[1]).FailAsync(held[mine[1]], new JobError("BOOM", "failed for good"), retryable: false);
        var fourth = await Eventually.HoldsAsync(async () => (await queue.ClaimAsync("w6", "m1", Sd, Lease))?.Job.Id, id => id is not null,
            because: "the failed job's slot is freed");
        Assert.That(fourth, Is.EqualTo(mine[3]));
    }
}
