using System.Net;
using System.Net.Http.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// <c>/metrics</c> on a real silo. The silo binds 127.0.0.1, so every request here comes from loopback; what a
/// remote caller gets is decided by the authorization handler and tested in UnitTests' MetricsAccessTests.
/// </summary>
public sealed class MetricsTests
{
    private const string AdminKey = "e2e-metrics-admin-key-0123456789";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = AdminKey,
        // One request a second: a scrape that counted against a key or an address would soon be refused.
        Environment = new Dictionary<string, string> { ["RateLimit__PermitsPerSecond"] = "1", ["RateLimit__Burst"] = "1" },
    });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private Task<HttpResponseMessage> ScrapeAsync(string? apiKey = null) =>
        _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/metrics", apiKey));

    [Test]
    public async Task A_loopback_caller_without_a_key_gets_Prometheus_text_with_ASP_NET_Core_runtime_and_Cluster_metrics()
    {
        // An API error, so that the silo's own cluster.api.errors counter has something to show.
        using (var missing = await _silo.Http.GetAsync(new Uri("/api/no-such-route", UriKind.Relative)))
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));

        using var response = await ScrapeAsync();
        var text = await response.Content.ReadAsStringAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
            Assert.That(text, Does.Contain("http_server_request_duration_seconds_bucket{"), "ASP.NET Core");
            Assert.That(text, Does.Contain("dotnet_gc_heap_total_allocated_bytes_total"), "runtime");
            Assert.That(text, Does.Contain("cluster_api_errors_total{").And.Contain("code=\"NOT_FOUND\""), "the silo's own meter");
        }
    }

    [TestCase("POST")]
    [TestCase("PUT")]
    [TestCase("DELETE")]
    public async Task Only_GET_scrapes_another_method_gets_405_in_the_error_shape(string method)
    {
        using var response = await _silo.Http.SendAsync(SiloProcess.Request(new HttpMethod(method), "/metrics", AdminKey));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed), body);
        Assert.That(body, Does.Contain("\"success\":false").And.Not.Contain("http_server_request_duration"));
    }

    [Test]
    public async Task An_admin_key_gets_the_metrics()
    {
        using var response = await ScrapeAsync(AdminKey);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("http_server_request_duration"));
    }

    [Test]
    public async Task A_key_that_is_presented_is_judged_even_from_loopback_a_bad_one_gets_401_and_a_monitor_key_403()
    {
        string monitorKey;
        using (var created = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey,
                   JsonContent.Create(new { name = "metrics-monitor", scopes = new[] { ApiScopes.Monitor } }))))
        {
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            monitorKey = (await created.JsonAsync()).GetProperty("key").GetString()!;
        }

        using var bad = await ScrapeAsync("no-such-key");
        using var monitor = await ScrapeAsync(monitorKey);

        await bad.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await monitor.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.That((await monitor.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("admin"));
    }

    [Test]
    public async Task Scrapes_are_never_rate_limited_with_or_without_a_key()
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var anonymous = await ScrapeAsync();
            using var admin = await ScrapeAsync(AdminKey);
            statuses.Add(anonymous.StatusCode);
            statuses.Add(admin.StatusCode);
        }

        Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK));
    }
}
