using System.Globalization;
using System.Text.Json;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Issue 11's fairness, end to end: tenant A's backlog of 1,000 jobs does not starve tenant B's 10, submitted after,
/// when four workers serve both.
/// </summary>
public sealed class FairShareTests
{
    private const string AdminKey = "e2e-fair-share-admin-key-0123456789abcdef";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = AdminKey,
        Environment = new Dictionary<string, string> { ["Auth__Registration"] = "open" },
    });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    [Test]
    public async Task A_tenant_that_submits_10_jobs_after_another_submitted_1000_has_them_done_before_the_others_100th()
    {
        var (a, b) = (await Tenants.NewSubmitKeyAsync(_silo), await Tenants.NewSubmitKeyAsync(_silo));
        var capability = "fair-" + Guid.NewGuid().ToString("N")[..8];
        var job = new { type = "simulation", payload = new { duration_ms = 40 }, requirements = new { capabilities = new[] { capability } } };
        var mine = (await Tenants.SubmitBatchAsync(_silo, a, job, 1_000)).ToHashSet(StringComparer.Ordinal);
        var theirs = (await Tenants.SubmitBatchAsync(_silo, b, job, 10)).ToHashSet(StringComparer.Ordinal);

        await using var agent = AgentProcess.Start(_silo, AdminKey, "fair-machine", 4, "--connector", "simulation", "--capabilities", capability);
        var completed = await Eventually.HoldsAsync(() => Tenants.ListAsync(_silo, AdminKey, "completed"),
            jobs => jobs.Count(j => theirs.Contains(Id(j))) == theirs.Count, TimeSpan.FromSeconds(60), "B's ten jobs completed");

        var bDone = completed.Where(j => theirs.Contains(Id(j))).Max(CompletedAt);
        var aBefore = completed.Count(j => mine.Contains(Id(j)) && CompletedAt(j) <= bDone);
        TestContext.Out.WriteLine($"when B's last job completed, {aBefore} of A's had");
        Assert.That(aBefore, Is.LessThan(100), "B's ten before A's hundredth");
        Assert.That(aBefore, Is.GreaterThanOrEqualTo(5), "A was served in turn meanwhile, not stopped");
    }

    private static string Id(JsonElement job) => job.GetProperty("id").GetString()!;

    private static DateTimeOffset CompletedAt(JsonElement job) =>
        DateTimeOffset.Parse(job.GetProperty("completed_at").GetString()!, CultureInfo.InvariantCulture);
}
