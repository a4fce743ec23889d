using Cluster.Grains;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;

namespace Cluster.UnitTests.Jobs;

/// <summary>The pending index's fair sharing of claims between tenants, and its limit on each tenant's held jobs.</summary>
public sealed class FairShareTests
{
    private static readonly WorkerCapabilities Worker = new() { GpuMemory = 24, ModelTypes = ["sdxl"], Capabilities = ["text-to-image"] };

    private long _sequence;

    private void Add(PendingIndex index, string tenant, int jobs, int priority = 50)
    {
        for (var i = 0; i < jobs; i++)
        {
            var sequence = ++_sequence;
            index.Add(new PendingJob($"{tenant}-{sequence}", priority, sequence, Tenant: tenant));
        }
    }

    private static List<string> Claim(PendingIndex index, int claims)
    {
        var tenants = new List<string>();
        for (var i = 0; i < claims && index.TryClaim(Worker, out var job); i++) tenants.Add(job.Tenant!);
        return tenants;
    }

    [Test]
    public void A_tenant_that_arrives_behind_a_long_backlog_is_served_in_turn_with_it()
    {
        var index = new PendingIndex();
        Add(index, "a", 1_000);
        Assert.That(Claim(index, 3), Is.EqualTo(new[] { "a", "a", "a" }));

        Add(index, "b", 3);

        // b joins where a's last claim stood, so it goes first; ties go to the earlier job, a's.
        Assert.That(Claim(index, 8), Is.EqualTo(new[] { "b", "a", "b", "a", "b", "a", "a", "a" }));
    }

    [Test]
    public void Claims_are_shared_in_proportion_to_the_tenants_weights()
    {
        var index = new PendingIndex(new TenantLimitOptions { Weights = { ["heavy"] = 3 } });
        Add(index, "heavy", 500);
        Add(index, "light", 500);
        Add(index, "other", 500);

        var claimed = Claim(index, 500);

        Assert.That(claimed.Count(t => t == "heavy"), Is.EqualTo(300));
        Assert.That(claimed.Count(t => t == "light"), Is.EqualTo(100));
        Assert.That(claimed.Count(t => t == "other"), Is.EqualTo(100));
    }

    [Test]
    public void A_quiet_spell_earns_a_tenant_no_burst_when_it_comes_back()
    {
        var index = new PendingIndex();
        Add(index, "a", 10);
        Add(index, "b", 1);
        Claim(index, 2);
        Assert.That(index.UsageOf("b").Pending, Is.Zero, "b was served and has nothing waiting");

        Claim(index, 5); // a alone, while b is quiet
        Add(index, "b", 5);

        Assert.That(Claim(index, 4), Is.EqualTo(new[] { "b", "a", "b", "a" }), "b takes its turn, not the five a had meanwhile");
    }

    [Test]
    public void Priority_orders_a_tenants_own_jobs_but_does_not_let_one_tenant_starve_another()
    {
        var index = new PendingIndex();
        Add(index, "a", 5, priority: 1000);
        index.Add(new PendingJob("b-low", 0, ++_sequence, Tenant: "b"));
        index.Add(new PendingJob("b-high", 900, ++_sequence, Tenant: "b"));

        var order = new List<string>();
        while (index.TryClaim(Worker, out var job)) order.Add(job.JobId);

        Assert.That(order.IndexOf("b-high"), Is.LessThan(order.IndexOf("b-low")), "b's own jobs by priority");
        Assert.That(order.IndexOf("b-low"), Is.LessThan(4), "b's second job comes before a's backlog is done, whatever its priority");
        Assert.That(order.Take(4).Count(id => id.StartsWith("b-", StringComparison.Ordinal)), Is.EqualTo(2));
    }

    [Test]
    public void Work_of_one_tenant_only_is_served_by_pool_then_priority_then_sequence_as_without_tenants()
    {
        var index = new PendingIndex();
        index.Add(new PendingJob("low-first", 10, 1, Tenant: "a"));
        index.Add(new PendingJob("high", 90, 2, Tenant: "a"));
        index.Add(new PendingJob("low-second", 10, 3, Tenant: "a"));
        index.Add(new PendingJob("other-pool", 100, 4, new() { PoolPreference = "heavy" }, Tenant: "a"));

        var order = new List<string>();
        while (index.TryClaim(Worker, out var job)) order.Add(job.JobId);

        Assert.That(order, Is.EqualTo(new[] { "high", "low-first", "low-second", "other-pool" }));
    }

    [Test]
    public void A_tenant_at_its_running_limit_waits_while_others_are_served_until_a_held_job_is_released()
    {
        var index = new PendingIndex(new TenantLimitOptions { RunningJobs = 2 });
        Add(index, "a", 5);
        index.Add(new PendingJob("admin-job", 0, ++_sequence));

        Assert.That(index.TryClaim(Worker, out var first), Is.True);
        Assert.That(index.TryClaim(Worker, out var second), Is.True);
        Assert.That(new[] { first!.Tenant, second!.Tenant }, Is.EqualTo(new[] { "a", null }), "a, then the work of no tenant in its turn");
        Assert.That(index.TryClaim(Worker, out var third), Is.True);
        Assert.That(third!.Tenant, Is.EqualTo("a"));
        Assert.That(index.UsageOf("a"), Is.EqualTo((Pending: 3, Held: 2)));

        Assert.That(index.TryClaim(Worker, out _), Is.False, "a holds two: its three others wait");

        Assert.That(index.Release(first.JobId), Is.True);
        Assert.That(index.Release(first.JobId), Is.False, "a slot is freed once");
        Assert.That(index.TryClaim(Worker, out var fourth), Is.True);
        Assert.That(fourth!.Tenant, Is.EqualTo("a"));
        Assert.That(index.TryClaim(Worker, out _), Is.False);
        Assert.That(index.UsageOf("a"), Is.EqualTo((Pending: 2, Held: 2)));
    }

    [Test]
    public void Held_jobs_found_by_a_rebuild_count_against_the_limit_and_an_idle_tenant_is_forgotten()
    {
        var index = new PendingIndex(new TenantLimitOptions { RunningJobs = 1 });
        index.Hold("running-before", "a");
        Add(index, "a", 1);

        Assert.That(index.TryClaim(Worker, out _), Is.False);
        Assert.That(index.Tenants.Single(), Is.EqualTo(("a", 1, 1)));

        index.Release("running-before");
        Assert.That(index.TryClaim(Worker, out var job), Is.True);
        index.Release(job!.JobId);

        Assert.That(index.Tenants, Is.Empty, "nothing waiting and nothing held: nothing kept");
    }
}
