using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Keys across two silos. A key deleted or a login ended on one silo stops working on another that had it cached, long
/// before the cache (<c>Auth:LookupCacheDuration</c>, 30 s) would have let it go: the revocation travels on a Redis stream
/// every silo follows. A key's rate limit and a tenant's limit on running jobs hold for both silos together.
/// </summary>
public sealed class MultiSiloAuthTests
{
    private const string AdminKey = "e2e-revocation-admin-key-0123456789abcdef";
    // Well inside the cache's 30 s: passing within it shows the revocation, not the expiry, ended the credential.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private SiloCluster _cluster = null!;

    [OneTimeSetUp]
    public async Task StartCluster() => _cluster = await SiloCluster.StartAsync(2, new SiloSettings
    {
        BootstrapApiKey = AdminKey,
        Environment = new Dictionary<string, string> { ["Auth__Registration"] = "open", ["Limits__RunningJobs"] = RunningJobs.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    });

    private const int RunningJobs = 2;

    [OneTimeTearDown]
    public ValueTask StopCluster() => _cluster.DisposeAsync();

    private static async Task<HttpStatusCode> StatusAsync(SiloProcess silo, string? key = null, string? bearer = null)
    {
        using var request = SiloProcess.Request(HttpMethod.Get, "/api/whoami", key);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await silo.Http.SendAsync(request);
        return response.StatusCode;
    }

    private static Task UntilRefusedAsync(SiloProcess silo, string? key = null, string? bearer = null) =>
        Eventually.HoldsAsync(() => StatusAsync(silo, key, bearer), status => status == HttpStatusCode.Unauthorized, Deadline,
            "the other silo refuses the revoked credential");

    [Test]
    public async Task A_key_deleted_on_one_silo_stops_working_on_another_that_had_it_cached()
    {
        var (a, b) = (_cluster[0], _cluster[1]);
        using var created = await a.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey,
            JsonContent.Create(new { name = "soon-revoked", scopes = new[] { ApiScopes.Monitor } })));
        var body = await created.JsonAsync();
        var (key, id) = (body.GetProperty("key").GetString()!, body.GetProperty("id").GetString()!);
        Assert.That(await StatusAsync(b, key), Is.EqualTo(HttpStatusCode.OK), "silo b has looked the key up, and caches it");

        using var deleted = await a.Http.SendAsync(SiloProcess.Request(HttpMethod.Delete, "/api/keys/" + id, AdminKey));
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await UntilRefusedAsync(b, key: key);
    }

    [Test]
    public async Task A_login_ended_on_one_silo_stops_working_on_another_that_had_it_cached()
    {
        var (a, b) = (_cluster[0], _cluster[1]);
        var email = $"revoked-{Guid.NewGuid():N}@example.test";
        using (var registered = await a.Http.PostAsJsonAsync("/api/auth/register", new { email, password = "correct horse battery" }))
            Assert.That(registered.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        using var login = await a.Http.PostAsJsonAsync("/api/auth/login", new { email, password = "correct horse battery" });
        var token = (await login.JsonAsync()).GetProperty("token").GetString()!;
        Assert.That(await StatusAsync(b, bearer: token), Is.EqualTo(HttpStatusCode.OK), "silo b has looked the session up, and caches it");

        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/auth/logout");
        logout.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using (var ended = await a.Http.SendAsync(logout))
            Assert.That(ended.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await UntilRefusedAsync(b, bearer: token);
    }

    [Test]
    public async Task A_key_limited_to_50_requests_a_second_gets_50_a_second_from_two_silos_together()
    {
        const int rate = 50;
        using var created = await _cluster[0].Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey,
            JsonContent.Create(new { name = "limited", scopes = new[] { ApiScopes.Monitor }, rate_limit = rate })));
        var key = (await created.JsonAsync()).GetProperty("key").GetString()!;
        var (accepted, refused) = (0, 0);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(4);

        // Four callers on each silo, each sending the next request as soon as the last is answered: far more than 50 a second.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
        {
            var silo = _cluster[caller % 2];
            while (clock.Elapsed < until)
            {
                var status = await StatusAsync(silo, key);
                if (status == HttpStatusCode.OK) Interlocked.Increment(ref accepted);
                else if (status == HttpStatusCode.TooManyRequests) Interlocked.Increment(ref refused);
                else Assert.Fail($"unexpected {status}");
            }
        }));
        var expected = rate * clock.Elapsed.TotalSeconds;

        TestContext.Out.WriteLine($"{accepted} accepted and {refused} refused in {clock.Elapsed.TotalSeconds:F2} s: {accepted / clock.Elapsed.TotalSeconds:F1} a second");
        Assert.That(refused, Is.GreaterThan(accepted), "the callers asked for far more than the limit");
        Assert.That(accepted, Is.InRange(0.9 * expected, 1.1 * expected), "50 a second ± 10 %, both silos together");
    }

    [Test]
    public async Task Discovery_lists_every_live_silo_with_where_it_answers_and_its_load_to_any_client()
    {
        using var created = await _cluster[0].Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey,
            JsonContent.Create(new { name = "a-client", scopes = new[] { ApiScopes.Submit } })));
        var key = (await created.JsonAsync()).GetProperty("key").GetString()!;
        string[] expected = [.. _cluster.Silos.Select(s => s.BaseAddress.ToString().TrimEnd('/'))];

        // Each silo reports itself a few seconds after it starts.
        var silos = await Eventually.HoldsAsync(async () =>
        {
            using var response = await _cluster[1].Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/discovery", key));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            return (await response.JsonAsync()).GetProperty("silos").EnumerateArray().Select(s => s.Clone()).ToList();
        }, list => list.Count == expected.Length, TimeSpan.FromSeconds(30), "both silos reported");

        Assert.That(silos.SelectMany(s => s.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!.TrimEnd('/'))), Is.EquivalentTo(expected));
        Assert.That(silos.Select(s => s.GetProperty("load").GetProperty("workers").GetInt64()), Is.All.GreaterThanOrEqualTo(0));
    }

    [Test]
    public async Task A_tenant_limited_to_2_running_jobs_never_has_3_running_though_workers_on_both_silos_are_free()
    {
        var tenant = await Tenants.NewSubmitKeyAsync(_cluster[0]);
        var capability = "limited-" + Guid.NewGuid().ToString("N")[..8];
        var job = new { type = "simulation", payload = new { duration_ms = 300 }, requirements = new { capabilities = new[] { capability } } };
        var ids = (await Tenants.SubmitBatchAsync(_cluster[0], tenant, job, 12)).ToHashSet(StringComparer.Ordinal);
        await using var onA = AgentProcess.Start(_cluster[0], AdminKey, "limited-a", 3, "--connector", "simulation", "--capabilities", capability);
        await using var onB = AgentProcess.Start(_cluster[1], AdminKey, "limited-b", 3, "--connector", "simulation", "--capabilities", capability);

        // Submitted on silo A, watched on silo B, run by workers of both: the one queue grain counts for the whole cluster.
        var mostSeen = 0;
        var completed = await Eventually.HoldsAsync(async () =>
        {
            using var usage = await _cluster[1].Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/usage", tenant));
            var body = await usage.JsonAsync();
            mostSeen = Math.Max(mostSeen, body.GetProperty("usage").GetProperty("running_jobs").GetInt32());
            Assert.That(body.GetProperty("limits").GetProperty("running_jobs").GetInt32(), Is.EqualTo(RunningJobs));
            return (await Tenants.ListAsync(_cluster[0], AdminKey, "completed")).Where(j => ids.Contains(j.GetProperty("id").GetString()!)).ToList();
        }, done => done.Count == ids.Count, TimeSpan.FromSeconds(60), "all twelve completed");

        // From the jobs' own times: each ran from its assignment to its completion. An end at the instant of a start frees its slot first.
        var changes = completed
            .SelectMany(j => new[] { (At: Time(j, "assigned_at"), Change: +1), (At: Time(j, "completed_at"), Change: -1) })
            .OrderBy(c => c.At).ThenBy(c => c.Change);
        var (running, most) = (0, 0);
        foreach (var change in changes) most = Math.Max(most, running += change.Change);
        TestContext.Out.WriteLine($"at most {most} running by the jobs' times, {mostSeen} by /api/usage");
        Assert.That(most, Is.EqualTo(RunningJobs), "never more than the limit, and the limit used: six workers were free");
        Assert.That(mostSeen, Is.InRange(1, RunningJobs));
    }

    private static DateTimeOffset Time(System.Text.Json.JsonElement job, string property) =>
        DateTimeOffset.Parse(job.GetProperty(property).GetString()!, System.Globalization.CultureInfo.InvariantCulture);
}
