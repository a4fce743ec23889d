using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Grains.Streams;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Real machine agents (<c>cluster agent</c> processes, one worker per GPU) against two real silos sharing
/// one Redis, which the tests read directly to check that every job completed exactly once.
/// </summary>
public sealed class AgentTests
{
    private const string Key = "e2e-agents-admin-key-0123456789abcdef";
    private SiloCluster _cluster = null!;
    private RedisFixture _redis = null!;
    private SiloProcess _a = null!;
    private SiloProcess _b = null!;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await SiloCluster.StartAsync(2, new SiloSettings
        {
            BootstrapApiKey = Key,
            // The tests poll every job's status through the API: no rate limit in their way.
            Environment = new Dictionary<string, string> { ["Jobs__RetryBackoff"] = "00:00:00.050", ["RateLimit__PermitsPerSecond"] = "0" },
        });
        (_redis, _a, _b) = (_cluster.Redis, _cluster[0], _cluster[1]);
    }

    [OneTimeTearDown]
    public ValueTask StopCluster() => _cluster.DisposeAsync();

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<string[]> SubmitAsync(SiloProcess silo, int count, string capability, object? extra = null, int priority = 50)
    {
        var jobs = Enumerable.Range(0, count).Select(_ =>
        {
            var job = JsonSerializer.SerializeToNode(new { type = "simulation", priority, requirements = new { capabilities = new[] { capability } } })!.AsObject();
            if (extra is not null) foreach (var (k, v) in JsonSerializer.SerializeToNode(extra)!.AsObject()) job[k] = v?.DeepClone();
            return job;
        }).ToArray();
        using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/batch", Key, JsonContent.Create(new { jobs })));
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("job_ids").EnumerateArray().Select(j => j.GetString()!).ToArray();
    }

    /// <summary>The job's fields as the API shows them (through either silo: each sees the whole cluster), as text.</summary>
    private async Task<Dictionary<string, string>> JobAsync(string id)
    {
        using var response = await _a.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, $"/api/jobs/{id}/status", Key));
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("job").EnumerateObject()
            .Where(p => p.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
            .ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText(), StringComparer.Ordinal);
    }

    private async Task WaitUntilAllAsync(IEnumerable<string> ids, string status, TimeSpan within, string because)
    {
        var pending = ids.ToHashSet();
        await Eventually.HoldsAsync(async () =>
        {
            var ids = pending.ToArray();
            var jobs = await Task.WhenAll(ids.Select(JobAsync));
            for (var i = 0; i < ids.Length; i++)
                if (jobs[i]["status"] == status) pending.Remove(ids[i]);
            return pending.Count;
        }, left => left == 0, within, because);
    }

    /// <summary>How many job_completed events each job has in the stream.</summary>
    private async Task<Dictionary<string, int>> CompletionsAsync() =>
        (await _redis.Database.ReadStreamAsync("events:jobs"))
            .Where(e => e.Type == "job_completed")
            .CountBy(e => e["job_id"]!, StringComparer.Ordinal)
            .ToDictionary(StringComparer.Ordinal);

    [Test]
    public async Task A_thousand_jobs_over_three_machines_of_four_workers_all_complete_exactly_once()
    {
        var capability = Unique("thousand");
        var machines = new[] { Unique("box"), Unique("box"), Unique("box") };
        var agents = machines.Select((m, i) => AgentProcess.Start(i % 2 == 0 ? _a : _b, Key, m, 4,
            "--connector", "simulation", "--sim-duration-ms", "5", "--capabilities", capability)).ToArray();
        try
        {
            var ids = (await SubmitAsync(_a, 500, capability)).Concat(await SubmitAsync(_b, 500, capability)).ToArray();

            await WaitUntilAllAsync(ids, "completed", TimeSpan.FromMinutes(3), "every job completes");

            var completions = await CompletionsAsync();
            var jobs = await Task.WhenAll(ids.Select(JobAsync));
            Assert.That(ids.Select(id => completions.GetValueOrDefault(id)), Is.All.EqualTo(1), "one completion event per job");
            Assert.That(jobs.Select(j => j["attempts"]), Is.All.EqualTo("1"), "no job ran twice");
            var perMachine = jobs.GroupBy(j => j["machine_id"]).ToDictionary(g => g.Key, g => g.Count());
            Assert.That(perMachine.Keys, Is.EquivalentTo(machines), "all three machines worked");
            var workers = jobs.Select(j => j["worker_id"]).Distinct().ToArray();
            Assert.That(workers, Has.Length.EqualTo(12), "one worker per GPU, four per machine");
        }
        finally
        {
            foreach (var agent in agents) await agent.DisposeAsync();
        }
    }

    [Test]
    public async Task Killing_an_agent_mid_job_returns_its_jobs_to_another_worker_which_completes_them_once()
    {
        var capability = Unique("kill");
        var doomed = AgentProcess.Start(_a, Key, Unique("doomed"), 2, "--connector", "simulation", "--sim-duration-ms", "60000", "--capabilities", capability);
        AgentProcess? survivor = null;
        try
        {
            var ids = await SubmitAsync(_a, 2, capability);
            await WaitUntilAllAsync(ids, "running", TimeSpan.FromSeconds(60), "the doomed agent's workers start both jobs");

            doomed.KillHard();
            survivor = AgentProcess.Start(_b, Key, Unique("survivor"), 2, "--connector", "simulation", "--sim-duration-ms", "10", "--capabilities", capability);
            await WaitUntilAllAsync(ids, "completed", TimeSpan.FromSeconds(60), "the survivor completes the returned jobs");

            var completions = await CompletionsAsync();
            var jobs = await Task.WhenAll(ids.Select(JobAsync));
            Assert.That(ids.Select(id => completions.GetValueOrDefault(id)), Is.All.EqualTo(1));
            Assert.That(jobs.Select(j => j["attempts"]), Is.All.EqualTo("2"));
            Assert.That(jobs.Select(j => j["worker_id"]), Is.All.Contains("survivor"));
        }
        finally
        {
            await doomed.DisposeAsync();
            if (survivor is not null) await survivor.DisposeAsync();
        }
    }

    [Test]
    public async Task A_job_that_keeps_failing_ends_dead_with_its_error_once_its_retries_are_spent()
    {
        var capability = Unique("fail");
        await using var agent = AgentProcess.Start(_b, Key, Unique("flaky"), 1, "--connector", "simulation", "--sim-duration-ms", "1", "--sim-failure-rate", "1", "--capabilities", capability);
        var ids = await SubmitAsync(_b, 1, capability, new { max_retries = 2 });

        await WaitUntilAllAsync(ids, "dead", TimeSpan.FromSeconds(60), "three failed attempts end the job");

        using var status = await _a.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, $"/api/jobs/{ids[0]}/status", Key));
        var job = (await status.JsonAsync()).GetProperty("job");
        Assert.That(job.GetProperty("retry_count").GetInt32(), Is.EqualTo(3));
        Assert.That(job.GetProperty("attempts").GetInt32(), Is.EqualTo(3));
        Assert.That(job.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("SIMULATED_FAILURE"));
    }

    [Test]
    public async Task Agents_take_only_jobs_they_can_serve_and_the_most_urgent_first()
    {
        var (x, y) = (Unique("cap-x"), Unique("cap-y"));
        var xJobs = await SubmitAsync(_a, 3, x, priority: 10);
        var urgent = await SubmitAsync(_a, 1, x, priority: 90);
        var yJobs = await SubmitAsync(_a, 3, y);
        var (xMachine, yMachine) = (Unique("x-box"), Unique("y-box"));
        await using var xAgent = AgentProcess.Start(_a, Key, xMachine, 1, "--connector", "simulation", "--sim-duration-ms", "1", "--capabilities", x);
        await using var yAgent = AgentProcess.Start(_b, Key, yMachine, 1, "--connector", "simulation", "--sim-duration-ms", "1", "--capabilities", y);

        await WaitUntilAllAsync([.. xJobs, .. urgent, .. yJobs], "completed", TimeSpan.FromSeconds(60), "both agents finish their own jobs");

        var x1 = await Task.WhenAll(xJobs.Concat(urgent).Select(JobAsync));
        var y1 = await Task.WhenAll(yJobs.Select(JobAsync));
        Assert.That(x1.Select(j => j["machine_id"]), Is.All.EqualTo(xMachine));
        Assert.That(y1.Select(j => j["machine_id"]), Is.All.EqualTo(yMachine));
        var order = x1.OrderBy(j => j["completed_at"], StringComparer.Ordinal).Select(j => j["id"]).ToArray();
        Assert.That(order, Is.EqualTo(urgent.Concat(xJobs).ToArray()), "the urgent job first, then first in first out");
    }
}
