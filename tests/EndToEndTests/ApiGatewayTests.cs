using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>The gateway's API keys, scopes, sessions and error shape, against one real silo.</summary>
public sealed class ApiGatewayTests
{
    private const string AdminKey = "e2e-admin-key-0123456789abcdefghij";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings { BootstrapApiKey = AdminKey });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? apiKey = null, object? json = null) =>
        _silo.Http.SendAsync(SiloProcess.Request(method, path, apiKey, json is null ? null : JsonContent.Create(json)));

    private async Task<string> CreateKeyAsync(string name, params string[] scopes)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/keys", AdminKey, new { name, scopes });
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        return body.GetProperty("key").GetString()!;
    }

    [Test]
    public async Task A_request_without_a_key_gets_401_in_the_error_shape()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/keys");
        await response.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Test]
    public async Task A_request_with_an_unknown_key_gets_401_saying_the_key_is_not_valid()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/keys", "no-such-key");
        await response.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("not valid"));
    }

    [Test]
    public async Task A_key_without_the_required_scope_gets_403_naming_the_scope()
    {
        var monitorKey = await CreateKeyAsync("dashboard", ApiScopes.Monitor);

        using var response = await SendAsync(HttpMethod.Get, "/api/keys", monitorKey);

        await response.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.That((await response.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("admin"));
    }

    [Test]
    public async Task A_created_key_authenticates_by_header_and_by_query_parameter_with_its_scopes()
    {
        var key = await CreateKeyAsync("worker-7", ApiScopes.Worker, ApiScopes.Submit);

        using var byHeader = await SendAsync(HttpMethod.Get, "/api/whoami", key);
        using var byQuery = await SendAsync(HttpMethod.Get, "/api/whoami?api_key=" + Uri.EscapeDataString(key));
        var header = await byHeader.JsonAsync();
        var query = await byQuery.JsonAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(byHeader.StatusCode, Is.EqualTo(HttpStatusCode.OK), header.ToString());
            Assert.That(header.GetProperty("name").GetString(), Is.EqualTo("worker-7"));
            Assert.That(header.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()), Is.EquivalentTo(new[] { "worker", "submit" }));
            Assert.That(header.GetProperty("via").GetString(), Is.EqualTo("header"));
            Assert.That(query.GetProperty("via").GetString(), Is.EqualTo("query"));
        }
    }

    [Test]
    public async Task Listing_keys_shows_names_scopes_and_prefixes_but_never_a_key()
    {
        var key = await CreateKeyAsync("listed", ApiScopes.Submit);

        using var response = await SendAsync(HttpMethod.Get, "/api/keys", AdminKey);
        var text = await response.Content.ReadAsStringAsync();
        var listed = JsonDocument.Parse(text).RootElement.GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("name").GetString() == "listed");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(text, Does.Not.Contain(key));
            Assert.That(text, Does.Not.Contain(AdminKey));
            Assert.That(key, Does.StartWith(listed.GetProperty("prefix").GetString()!));
            Assert.That(listed.GetProperty("scopes")[0].GetString(), Is.EqualTo("submit"));
        }
    }

    [Test]
    public async Task A_deleted_key_no_longer_authenticates()
    {
        var key = await CreateKeyAsync("short-lived", ApiScopes.Monitor);
        using (var before = await SendAsync(HttpMethod.Get, "/api/whoami", key))
            Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var id = (await (await SendAsync(HttpMethod.Get, "/api/whoami", key)).JsonAsync()).GetProperty("id").GetString();

        using var deleted = await SendAsync(HttpMethod.Delete, "/api/keys/" + id, AdminKey);
        using var after = await SendAsync(HttpMethod.Get, "/api/whoami", key);

        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await deleted.Content.ReadAsStringAsync());
        await after.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Test]
    public async Task Deleting_a_key_that_does_not_exist_gets_404()
    {
        using var response = await SendAsync(HttpMethod.Delete, "/api/keys/ffffffffffffffff", AdminKey);
        await response.AssertErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [TestCase("""{"name":"x","scopes":["superuser"]}""")]
    [TestCase("""{"name":"x","scopes":[]}""")]
    [TestCase("""{"scopes":["submit"]}""")]
    public async Task Creating_a_key_with_a_bad_name_or_scope_is_a_validation_error(string body)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey, content));
        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Test]
    public async Task Malformed_JSON_gets_400_in_the_error_shape()
    {
        using var content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json");
        using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey, content));
        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Test]
    public async Task An_unknown_api_route_gets_404_in_the_error_shape()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/no/such/thing", AdminKey);
        await response.AssertErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Test]
    public async Task A_route_asked_with_a_method_it_does_not_take_gets_405_with_Allow_in_the_error_shape()
    {
        using var submit = await SendAsync(HttpMethod.Get, "/api/jobs/submit", AdminKey);
        using var job = await SendAsync(HttpMethod.Delete, "/api/jobs/some-job-id/status", AdminKey);

        await submit.AssertErrorAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        await job.AssertErrorAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        Assert.That(submit.Content.Headers.Allow, Is.EquivalentTo(new[] { "POST" }));
        Assert.That(job.Content.Headers.Allow, Is.EquivalentTo(new[] { "GET" }));
    }

    [Test]
    public async Task A_body_over_the_size_limit_gets_413_in_the_error_shape()
    {
        using var content = new ByteArrayContent(OversizedJson());
        content.Headers.ContentType = new("application/json");
        using var response = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey, content));
        await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
    }

    [Test]
    public async Task A_chunked_body_over_the_size_limit_gets_413_in_the_error_shape()
    {
        using var content = new StreamContent(new MemoryStream(OversizedJson()));
        content.Headers.ContentType = new("application/json");
        using var request = SiloProcess.Request(HttpMethod.Post, "/api/keys", AdminKey, content);
        request.Headers.TransferEncodingChunked = true;
        using var response = await _silo.Http.SendAsync(request);
        await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
    }

    /// <summary>A well-formed start of a document, so that the server cannot refuse it as malformed before reaching the limit.</summary>
    private static byte[] OversizedJson() => System.Text.Encoding.UTF8.GetBytes("{\"name\":\"" + new string('a', 2 * 1024 * 1024) + "\"}");

    [Test]
    public async Task Health_endpoints_answer_without_a_key()
    {
        using var live = await SendAsync(HttpMethod.Get, "/health/live");
        using var ready = await SendAsync(HttpMethod.Get, "/health/ready");
        Assert.That((live.StatusCode, ready.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
    }

    [Test]
    public async Task A_session_cookie_stands_in_for_the_key_until_the_session_is_closed()
    {
        var key = await CreateKeyAsync("browser", ApiScopes.Monitor);
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = _silo.BaseAddress };

        using var opened = await browser.PostAsJsonAsync("/api/session", new { api_key = key });
        var setCookie = opened.Headers.GetValues("Set-Cookie").Single();
        using var whileOpen = await browser.GetAsync(new Uri("/api/whoami", UriKind.Relative));
        var sessionCookie = handler.CookieContainer.GetCookies(_silo.BaseAddress)["cluster_session"]!.Value;
        using var closed = await browser.DeleteAsync(new Uri("/api/session", UriKind.Relative));
        using var replayed = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/whoami", UriKind.Relative));
        replayed.Headers.Add("Cookie", "cluster_session=" + sessionCookie);
        using var afterClose = await _silo.Http.SendAsync(replayed);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(opened.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(setCookie, Does.Contain("httponly").IgnoreCase.And.Contain("samesite=strict").IgnoreCase);
            Assert.That((await whileOpen.JsonAsync()).GetProperty("via").GetString(), Is.EqualTo("session"));
            Assert.That(closed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
        await afterClose.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Test]
    public async Task Opening_a_session_with_an_invalid_key_gets_401()
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/session", json: new { api_key = "wrong" });
        await response.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }
}
