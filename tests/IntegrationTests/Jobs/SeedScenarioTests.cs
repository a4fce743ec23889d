using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>
/// Seed 001's findMatchingJob scenarios, with the seed's own requirements and worker capabilities, on the job queue
/// that replaced the function: jobs are submitted and claimed through the grains instead of written into
/// <c>job:{id}</c> and claimed with <c>FCALL findMatchingJob</c>.
/// </summary>
public sealed class SeedScenarioTests : GrainTestBase
{
    private static readonly JobRequirements Sd = new() { GpuMemory = 8, ModelType = "stable-diffusion", Capabilities = ["text-to-image"] };
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private async Task<string> SubmitAsync(int priority, JobRequirements requirements, int maxRetries = 3) =>
        (await Grains.Jobs.SubmitAsync(new JobSubmission
        {
            Type = "text-to-image", Payload = new JsonObject { ["prompt"] = "x" }, Priority = priority, Requirements = requirements, MaxRetries = maxRetries,
        })).JobId;

    private Task<JobAssignment?> ClaimAsync(WorkerCapabilities worker, string workerId = "w1") => Grains.Jobs.ClaimAsync(workerId, "m1", worker, Lease);

    [Test]
    public async Task A_worker_gets_the_job_it_can_serve_and_the_job_leaves_the_pending_set()
    {
        var sd = await SubmitAsync(50, Sd);
        var llm = await SubmitAsync(70, new() { GpuMemory = 16, ModelType = "llm", Capabilities = ["text-generation"] });

        var claimed = await ClaimAsync(new() { GpuMemory = 12, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image", "image-to-image"] });

        Assert.That(claimed?.Job.Id, Is.EqualTo(sd));
        Assert.That((await Grains.Job(sd).GetAsync())!.Status, Is.EqualTo(JobStatus.Assigned));
        Assert.That((await Redis.SortedSetRangeByRankAsync("jobs:status:pending")).Select(i => i.ToString()), Is.EqualTo(new[] { llm }));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_worker_that_cannot_serve_any_job_gets_nothing()
    {
        var heavy = await SubmitAsync(50, new() { GpuMemory = 32, ModelType = "llm", Capabilities = ["text-generation"] });

        var claimed = await ClaimAsync(new() { GpuMemory = 4, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image"] });

        Assert.That(claimed, Is.Null);
        Assert.That((await Grains.Job(heavy).GetAsync())!.Status, Is.EqualTo(JobStatus.Pending));
    }

    [Test]
    public async Task The_highest_priority_matching_job_is_served_first()
    {
        await SubmitAsync(30, Sd);
        var high = await SubmitAsync(80, Sd);
        await SubmitAsync(50, Sd);

        var claimed = await ClaimAsync(new() { GpuMemory = 16, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image"] });

        Assert.That(claimed?.Job.Id, Is.EqualTo(high));
    }

    [Test]
    public async Task A_fast_lane_worker_takes_the_fast_lane_job()
    {
        var fast = await SubmitAsync(60, new() { GpuMemory = 4, ModelType = "ollama", Capabilities = ["text-generation"], PoolPreference = "fast-lane" });
        await SubmitAsync(50, Sd with { PoolPreference = "standard" });

        var claimed = await ClaimAsync(new() { GpuMemory = 8, ModelTypes = ["ollama", "stable-diffusion"], Capabilities = ["text-generation", "text-to-image"], PoolType = "fast-lane" });

        Assert.That(claimed?.Job.Id, Is.EqualTo(fast));
    }

    [Test]
    public async Task Five_workers_racing_for_one_job_produce_exactly_one_winner()
    {
        var single = await SubmitAsync(70, Sd);
        var worker = new WorkerCapabilities { GpuMemory = 16, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image"] };

        var claims = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => ClaimAsync(worker, $"w{i}")));

        var winners = claims.OfType<JobAssignment>().ToArray();
        Assert.That(winners, Has.Length.EqualTo(1));
        Assert.That(winners[0].Job.Id, Is.EqualTo(single));
    }

    [Test]
    public async Task A_job_that_failed_and_is_retried_can_be_claimed_again()
    {
        var id = await SubmitAsync(50, Sd, maxRetries: 2);
        var worker = new WorkerCapabilities { GpuMemory = 8, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image"] };
        var first = await ClaimAsync(worker) ?? throw new AssertionException("nothing was claimed");

        await Grains.Job(id).FailAsync(first.LeaseToken, new JobError("MODEL_LOAD_ERROR", "m"));
        var again = await Eventually.HoldsAsync(async () =>
        {
            await Grains.SweepAsync();
            return await ClaimAsync(worker);
        }, a => a is not null, because: "the retry's backoff runs out");

        Assert.That(again!.Job.Id, Is.EqualTo(id));
        Assert.That(again.Job.RetryCount, Is.GreaterThan(0));
    }
}
