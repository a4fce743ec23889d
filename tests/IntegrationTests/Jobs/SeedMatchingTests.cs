using System.Text.Json.Nodes;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>
/// Seed 001's findMatchingJob scenarios as its own tests wrote them: jobs put straight into job:{id} and
/// jobs:pending with HSET and ZADD, claimed with FCALL findMatchingJob 0 &lt;capabilities&gt; &lt;max scan&gt;.
/// </summary>
[TestFixture(Engine.Lua)]
public sealed class SeedMatchingTests(Engine engine) : GrainTestBase(engine)
{
    private const string SdRequirements = """{"gpu_memory":8,"model_type":"stable-diffusion","capabilities":["text-to-image"]}""";

    private async Task SeedJobAsync(string id, double priority, string requirements, string status = "pending")
    {
        await LuaClient.ExecuteAsync("HSET", "job:" + id, "id", id, "requirements", requirements, "status", status, "priority", priority);
        await LuaClient.ExecuteAsync("ZADD", "jobs:pending", priority, id);
    }

    private async Task<JsonObject> FindMatchingJobAsync(string capabilities) =>
        JsonNode.Parse(await FcallAsync("findMatchingJob", capabilities, "1"))!.AsObject();

    [Test]
    public async Task A_worker_gets_the_job_it_can_serve_and_the_job_leaves_the_pending_set()
    {
        await SeedJobAsync("job-1", 50, SdRequirements);
        await SeedJobAsync("job-2", 70, """{"gpu_memory":16,"model_type":"llm","capabilities":["text-generation"]}""");

        var reply = await FindMatchingJobAsync("""{"gpu_memory":12,"model_types":["stable-diffusion"],"capabilities":["text-to-image","image-to-image"]}""");

        Assert.That(reply["success"]!.GetValue<bool>(), Is.True);
        Assert.That(reply["jobId"]!.ToString(), Is.EqualTo("job-1"));
        var pending = await LuaClient.ExecuteAsync("ZRANGE", "jobs:pending", 0, -1);
        Assert.That(pending.Items.Select(i => i.ToString()), Does.Not.Contain("job-1").And.Contain("job-2"));
        Assert.That((await LuaClient.ExecuteAsync("HGET", "job:job-1", "status")).ToString(), Is.EqualTo("assigned"));
    }

    [Test]
    public async Task A_worker_that_cannot_serve_any_job_is_told_no_matching_jobs_found()
    {
        await SeedJobAsync("gpu-intensive", 50, """{"gpu_memory":32,"model_type":"llm","capabilities":["text-generation"]}""");

        var reply = await FindMatchingJobAsync("""{"gpu_memory":4,"model_types":["stable-diffusion"],"capabilities":["text-to-image"]}""");

        Assert.That(reply["success"]!.GetValue<bool>(), Is.False);
        Assert.That(reply["reason"]!.ToString(), Does.Contain("No matching jobs found"));
        Assert.That((await LuaClient.ExecuteAsync("HGET", "job:gpu-intensive", "status")).ToString(), Is.EqualTo("pending"));
    }

    [Test]
    public async Task The_highest_priority_matching_job_is_served_first()
    {
        await SeedJobAsync("low-priority", 30, SdRequirements);
        await SeedJobAsync("high-priority", 80, SdRequirements);
        await SeedJobAsync("medium-priority", 50, SdRequirements);

        var reply = await FindMatchingJobAsync("""{"gpu_memory":16,"model_types":["stable-diffusion"],"capabilities":["text-to-image"]}""");

        Assert.That(reply["jobId"]!.ToString(), Is.EqualTo("high-priority"));
    }

    [Test]
    public async Task A_fast_lane_worker_takes_the_fast_lane_job()
    {
        await SeedJobAsync("fast-lane", 60, """{"gpu_memory":4,"model_type":"ollama","capabilities":["text-generation"],"pool_preference":"fast-lane","expected_duration":30}""");
        await SeedJobAsync("standard", 50, """{"gpu_memory":8,"model_type":"stable-diffusion","capabilities":["text-to-image"],"pool_preference":"standard","expected_duration":300}""");

        var reply = await FindMatchingJobAsync("""{"gpu_memory":8,"model_types":["ollama","stable-diffusion"],"capabilities":["text-generation","text-to-image"],"pool_type":"fast-lane"}""");

        Assert.That(reply["jobId"]!.ToString(), Is.EqualTo("fast-lane"));
    }

    [Test]
    public async Task Five_workers_racing_for_one_job_produce_exactly_one_winner()
    {
        await SeedJobAsync("single", 70, SdRequirements);
        const string worker = """{"gpu_memory":16,"model_types":["stable-diffusion"],"capabilities":["text-to-image"]}""";

        var replies = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => FindMatchingJobAsync(worker)));

        var winners = replies.Where(r => r["success"]!.GetValue<bool>()).ToArray();
        Assert.That(winners, Has.Length.EqualTo(1));
        Assert.That(winners[0]["jobId"]!.ToString(), Is.EqualTo("single"));
    }

    [Test]
    public async Task A_job_requeued_by_hand_after_a_failure_can_be_claimed_again()
    {
        var submitted = await Grains.Jobs.SubmitAsync(new() { Type = "text-to-image", Payload = new JsonObject { ["prompt"] = "x" }, MaxRetries = 2 });
        const string worker = """{"worker_id":"test-worker-failure","machine_id":"m","gpu_memory":8,"model_types":["stable-diffusion"],"capabilities":["text-to-image"]}""";
        Assert.That((await FindMatchingJobAsync(worker))["jobId"]!.ToString(), Is.EqualTo(submitted.JobId));

        await LuaClient.ExecuteAsync("HSET", "job:" + submitted.JobId, "status", "failed", "retry_count", "1", "error", """{"code":"MODEL_LOAD_ERROR","message":"m"}""");
        await LuaClient.ExecuteAsync("ZADD", "jobs:pending", 50, submitted.JobId);

        var again = await FindMatchingJobAsync(worker);
        Assert.That(again["jobId"]?.ToString(), Is.EqualTo(submitted.JobId));
        Assert.That(int.Parse((await LuaClient.ExecuteAsync("HGET", "job:" + submitted.JobId, "retry_count")).ToString()), Is.GreaterThan(0));
    }

    [Test]
    public async Task A_dangling_id_in_the_pending_set_is_dropped_instead_of_served()
    {
        await LuaClient.ExecuteAsync("ZADD", "jobs:pending", 99, "no-such-job");

        var reply = await FindMatchingJobAsync("""{"gpu_memory":16}""");

        Assert.That(reply["success"]!.GetValue<bool>(), Is.False);
        Assert.That((await LuaClient.ExecuteAsync("ZCARD", "jobs:pending")).Integer, Is.Zero);
    }
}
