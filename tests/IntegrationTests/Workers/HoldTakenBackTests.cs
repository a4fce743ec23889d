using System.Text.Json.Nodes;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.IntegrationTests.Jobs;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Workers;

/// <summary>
/// A job grain that comes back (its silo died) with its stored lease lapsed asks its worker to take the hold back
/// rather than failing the attempt. The lease these jobs are assigned with is short, so that it lapses while the job is
/// out of memory; the cluster's own lease, which a hold taken back starts again with, is long enough for any load.
/// </summary>
public sealed class HoldTakenBackTests : GrainTestBase
{
    private static readonly WorkerCapabilities Caps = new() { GpuMemory = 24, Capabilities = ["text-to-image"] };
    private static readonly TimeSpan LapsingLease = TimeSpan.FromMilliseconds(50);

    protected override ClusterGrainOptions Options => new()
    {
        Lease = TimeSpan.FromSeconds(20),
        WorkerTimeout = TimeSpan.FromSeconds(20),
        RetryBackoff = TimeSpan.FromMilliseconds(10),
        SweepInterval = TimeSpan.FromHours(1), // nothing but the job's own activation judges its lease here
    };

    [Test]
    public async Task A_hold_taken_back_after_its_job_came_back_is_handed_out_again_by_the_workers_next_claim()
    {
        await Grains.Worker("w1").RegisterAsync(new WorkerRegistration { WorkerId = "w1", MachineId = "gpu-box-1", Concurrency = 1, Capabilities = Caps });
        var worker = Cluster.Client.GetGrain<IWorkerControlGrain>("w1");
        var job = Cluster.Client.GetGrain<IJobControlGrain>("job-taken-back");
        await job.CreateAsync(new JobSubmission { Type = "text-to-image", Payload = new JsonObject(), MaxRetries = 3 }, JobPlacement.Alone);
        var assignment = await job.AssignAsync("w1", "gpu-box-1", "lease-1", LapsingLease) ?? throw new AssertionException("not assigned");
        var first = await worker.ClaimAsync("", Caps, LapsingLease);
        Assert.That(first?.LeaseToken, Is.EqualTo("lease-1"), "the hold handed out by the claim");

        // The job leaves memory with its lease timer, as with its silo, and its stored lease lapses meanwhile. The
        // connection that was handed the hold may never have received it: the answer went through the dead silo too.
        await Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.FromMilliseconds(1));
        await Eventually.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > assignment.LeaseExpiresAtMs + 10),
            "the stored lease lapses", TimeSpan.FromSeconds(5));
        var held = await Grains.Worker("w1").HeartbeatAsync(Options.Lease); // renewing brings the job back
        var handedOut = await worker.ClaimAsync("", Caps, Options.Lease);
        var state = await Grains.Job("job-taken-back").GetAsync();
        var history = await Grains.Job("job-taken-back").HistoryAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(held, Is.EqualTo(new[] { "job-taken-back" }), "the worker still holds the job");
            Assert.That(handedOut?.Job.Id, Is.EqualTo("job-taken-back"), "handed out again, since its connection may never have had it");
            Assert.That(handedOut?.LeaseToken, Is.EqualTo("lease-1"), "the same hold, not a new attempt");
            Assert.That(state!.Status, Is.EqualTo(JobStatus.Assigned));
            Assert.That(history.Count(e => (string?)e["type"] == "job_assigned"), Is.EqualTo(1), "assigned once");
            Assert.That(history.Count(e => (string?)e["type"] == "job_failed"), Is.Zero, "no attempt failed");
        }
    }
}
