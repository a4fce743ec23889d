using System.Net;
using System.Net.Http.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// Orleans' dashboard at <c>/orleans-dashboard</c> on real silos: one with <c>Orleans__Dashboard=true</c>, one with the
/// default settings, started side by side. Only admin keys and sessions get it; off, the path does not exist.
/// </summary>
public sealed class OrleansDashboardTests
{
    private const string AdminKey = "e2e-orleans-dashboard-admin-key-0123";
    private const string Page = "/orleans-dashboard";
    private const string Data = "/orleans-dashboard/DashboardCounters";

    /// <summary>The page (which redirects to <c>/orleans-dashboard/</c>), a script it loads and its polled data.</summary>
    private static readonly string[] Paths = [Page, "/orleans-dashboard/", "/orleans-dashboard/index.min.js", Data];

    private SiloProcess _on = null!;
    private SiloProcess _off = null!;
    private string _monitorKey = null!;

    [OneTimeSetUp]
    public async Task StartSilos()
    {
        var on = SiloProcess.StartReadyAsync(new SiloSettings
        {
            BootstrapApiKey = AdminKey,
            Environment = new Dictionary<string, string> { ["Orleans__Dashboard"] = "true" },
        });
        var off = SiloProcess.StartReadyAsync(new SiloSettings { BootstrapApiKey = AdminKey });
        try
        {
            await Task.WhenAll(on, off);
        }
        finally
        {
            // Whichever started is stopped by the teardown, even when the other failed.
            if (on.IsCompletedSuccessfully) _on = on.Result;
            if (off.IsCompletedSuccessfully) _off = off.Result;
        }
        _monitorKey = await CreateKeyAsync(_on, "dashboard-monitor", ApiScopes.Monitor);
    }

    [OneTimeTearDown]
    public async Task StopSilos()
    {
        if (_on is not null) await _on.DisposeAsync();
        if (_off is not null) await _off.DisposeAsync();
    }

    private static Task<HttpResponseMessage> GetAsync(SiloProcess silo, string path, string? apiKey) =>
        silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, path, apiKey));

    private static async Task<string> CreateKeyAsync(SiloProcess silo, string name, string scope)
    {
        using var created = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey,
            JsonContent.Create(new { name, scopes = new[] { scope } })));
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return (await created.JsonAsync()).GetProperty("key").GetString()!;
    }

    [Test]
    public async Task An_admin_key_gets_the_dashboard_page_and_its_data_about_this_silo()
    {
        using var page = await GetAsync(_on, Page, AdminKey);
        var html = await page.Content.ReadAsStringAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK), html);
            Assert.That(page.RequestMessage?.RequestUri?.AbsolutePath, Is.EqualTo(Page + "/"), "redirected so that the page's relative asset paths resolve");
            Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
            Assert.That(html, Does.Contain("<title>Orleans Dashboard</title>"));
        }

        // The dashboard refreshes its counters at most once a second, so a silo's first answers may list no silos yet.
        var statuses = await Eventually.HoldsAsync(async () =>
        {
            using var data = await GetAsync(_on, Data, AdminKey);
            Assert.That(data.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            return (await data.JsonAsync()).GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("status").GetString()).ToList();
        }, hosts => hosts.Count > 0, TimeSpan.FromSeconds(10), "the dashboard lists the silo");
        Assert.That(statuses, Is.EqualTo(new[] { "Active" }), "this silo, alone in its cluster");
    }

    [Test]
    public async Task An_admin_session_gets_the_page_and_the_data_as_the_browser_does()
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = _on.BaseAddress };
        using (var opened = await browser.PostAsJsonAsync("/api/session", new { api_key = AdminKey }))
            Assert.That(opened.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        using var page = await browser.GetAsync(new Uri(Page, UriKind.Relative));
        using var data = await browser.GetAsync(new Uri(Data, UriKind.Relative));

        Assert.That((page.StatusCode, data.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
    }

    [Test]
    public async Task A_monitor_key_gets_403_saying_admin_is_needed()
    {
        foreach (var path in Paths)
        {
            using var response = await GetAsync(_on, path, _monitorKey);
            await response.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("admin"), path);
        }
    }

    [Test]
    public async Task No_key_or_a_bad_key_gets_401()
    {
        foreach (var path in Paths)
        {
            using var none = await GetAsync(_on, path, apiKey: null);
            using var bad = await GetAsync(_on, path, "no-such-key");
            await none.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            await bad.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }
    }

    [Test]
    public async Task With_the_default_settings_there_is_no_dashboard_even_for_an_admin_key()
    {
        foreach (var path in Paths)
        {
            using var response = await GetAsync(_off, path, AdminKey);
            await response.AssertErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
    }
}
