using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// A key deleted or a login ended on one silo stops working on another that had it cached, long before the cache
/// (<c>Auth:LookupCacheDuration</c>, 30 s) would have let it go: the revocation travels on a Redis stream every silo follows.
/// </summary>
public sealed class RevocationTests
{
    private const string AdminKey = "e2e-revocation-admin-key-0123456789abcdef";
    // Well inside the cache's 30 s: passing within it shows the revocation, not the expiry, ended the credential.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private SiloCluster _cluster = null!;

    [OneTimeSetUp]
    public async Task StartCluster() => _cluster = await SiloCluster.StartAsync(2, new SiloSettings
    {
        BootstrapApiKey = AdminKey,
        Environment = new Dictionary<string, string> { ["Auth__Registration"] = "open" },
    });

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
}
