using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Seed 004's accounts against one real silo: invitation, registration, login, the user's own keys, lockout, admins.</summary>
public sealed class UserAccountTests
{
    private const string AdminKey = "e2e-users-admin-key-0123456789abcdef";
    private const string Password = "correct horse battery";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = AdminKey,
        Environment = new Dictionary<string, string> { ["Limits__JobsPerDay"] = JobsPerDay.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    });

    /// <summary>Each test's tenants are new, so none comes near this but the test of the limit.</summary>
    private const int JobsPerDay = 5;

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private static string NewEmail() => $"user-{Guid.NewGuid():N}@example.test";

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? apiKey = null, object? json = null, string? bearer = null)
    {
        var request = SiloProcess.Request(method, path, apiKey, json is null ? null : JsonContent.Create(json));
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return _silo.Http.SendAsync(request);
    }

    private async Task<string> InvitationAsync()
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/auth/invitations", AdminKey);
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        return body.GetProperty("invitation").GetString()!;
    }

    private async Task<JsonElement> RegisterAsync(string email, string password = Password)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email, password, invitation = await InvitationAsync() });
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        return body.GetProperty("user");
    }

    private async Task<string> LoginAsync(string email, string password = Password)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email, password });
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("token").GetString()!;
    }

    private async Task<JsonElement> CreateKeyAsync(string token, params string[] scopes)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/keys", json: new { name = "mine", scopes }, bearer: token);
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        return body;
    }

    [Test]
    public async Task A_user_registers_with_an_invitation_logs_in_makes_a_key_and_submits_a_job_with_it()
    {
        var email = NewEmail();
        var user = await RegisterAsync(email);

        using var login = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email = email.ToUpperInvariant(), password = Password });
        var session = await login.JsonAsync();
        Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.OK), session.ToString());
        var token = session.GetProperty("token").GetString()!;
        var key = (await CreateKeyAsync(token, ApiScopes.Submit)).GetProperty("key").GetString()!;
        var jobId = await _silo.SubmitAsync(key, new { type = "simulation" });
        using var job = await SendAsync(HttpMethod.Get, $"/api/jobs/{jobId}/status", key);
        using var keys = await SendAsync(HttpMethod.Get, "/api/keys", bearer: token);
        var listed = (await keys.JsonAsync()).GetProperty("keys").EnumerateArray().ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(user.GetProperty("email").GetString(), Is.EqualTo(email));
            Assert.That(user.GetProperty("role").GetString(), Is.EqualTo("user"));
            Assert.That(session.GetProperty("expires_at").GetDateTimeOffset(), Is.GreaterThan(DateTimeOffset.UtcNow.AddHours(1)));
            Assert.That(login.Headers.GetValues("Set-Cookie").Single(), Does.StartWith("cluster_session=").And.Contain("httponly"));
            Assert.That(job.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(listed, Has.Count.EqualTo(1), "a user lists only their own keys");
            Assert.That(listed[0].GetProperty("owner").GetString(), Is.EqualTo(user.GetProperty("id").GetString()));
        }
    }

    [Test]
    public async Task Registration_needs_an_invitation_that_works_once_a_free_email_and_a_long_enough_password()
    {
        var invitation = await InvitationAsync();
        var email = NewEmail();

        using var without = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email, password = Password });
        using var forged = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email, password = Password, invitation = "made-up" });
        using var shortPassword = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email, password = "short", invitation });
        using var notAnEmail = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email = "nobody", password = Password, invitation });
        using var first = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email, password = Password, invitation });
        using var reused = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email = NewEmail(), password = Password, invitation });
        var spare = await InvitationAsync();
        using var taken = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email = " " + email.ToUpperInvariant(), password = Password, invitation = spare });
        using var spareStillGood = await SendAsync(HttpMethod.Post, "/api/auth/register", json: new { email = NewEmail(), password = Password, invitation = spare });

        await without.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await forged.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await shortPassword.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        await notAnEmail.AssertErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created), "a refused registration does not use up the code");
        await reused.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await taken.AssertErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.That(spareStillGood.StatusCode, Is.EqualTo(HttpStatusCode.Created), "a taken email does not use up the invitation");
    }

    [Test]
    public async Task A_users_keys_are_no_wider_than_its_role_and_only_a_logged_in_user_manages_them()
    {
        var email = NewEmail();
        await RegisterAsync(email);
        var token = await LoginAsync(email);
        var key = (await CreateKeyAsync(token, ApiScopes.Submit)).GetProperty("key").GetString()!;
        var otherToken = await LoginAsync((await RegisterAsync(NewEmail())).GetProperty("email").GetString()!);
        var othersKey = (await CreateKeyAsync(otherToken, ApiScopes.Submit)).GetProperty("id").GetString()!;

        using var wider = await SendAsync(HttpMethod.Post, "/api/keys", json: new { name = "root", scopes = new[] { ApiScopes.Admin } }, bearer: token);
        using var byKey = await SendAsync(HttpMethod.Post, "/api/keys", key, new { name = "more", scopes = new[] { ApiScopes.Submit } });
        using var notMine = await SendAsync(HttpMethod.Delete, "/api/keys/" + othersKey, bearer: token);
        using var adminSees = await SendAsync(HttpMethod.Get, "/api/keys", AdminKey);

        await wider.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await byKey.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await notMine.AssertErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.That((await adminSees.JsonAsync()).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()), Does.Contain(othersKey));
    }

    [Test]
    public async Task Failed_logins_lock_an_email_for_a_while_whether_or_not_it_has_an_account()
    {
        var email = NewEmail();
        await RegisterAsync(email);

        foreach (var who in new[] { email, NewEmail() })
        {
            for (var i = 1; i < 5; i++)
            {
                using var wrong = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email = who, password = "wrong password " + i });
                await wrong.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            }
            using var fifth = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email = who, password = "wrong again" });
            await fifth.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            using var locked = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email = who, password = Password });
            await locked.AssertErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
            Assert.That(locked.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.FromMinutes(4)), who == email ? "an account" : "an email with no account");
        }
    }

    [Test]
    public async Task Logging_out_ends_the_token_and_an_admin_who_disables_an_account_ends_its_logins_sessions_and_keys()
    {
        var email = NewEmail();
        var id = (await RegisterAsync(email)).GetProperty("id").GetString()!;
        var first = await LoginAsync(email);
        using (var logout = await SendAsync(HttpMethod.Post, "/api/auth/logout", bearer: first))
            Assert.That(logout.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var afterLogout = await SendAsync(HttpMethod.Get, "/api/keys", bearer: first);
        await afterLogout.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        var token = await LoginAsync(email);
        var key = (await CreateKeyAsync(token, ApiScopes.Submit)).GetProperty("key").GetString()!;
        using var disable = await SendAsync(HttpMethod.Post, $"/api/users/{id}/disable", AdminKey);
        using var users = await SendAsync(HttpMethod.Get, "/api/users", AdminKey);
        using var session = await SendAsync(HttpMethod.Get, "/api/keys", bearer: token);
        using var byKey = await SendAsync(HttpMethod.Get, "/api/jobs", key);
        using var login = await SendAsync(HttpMethod.Post, "/api/auth/login", json: new { email, password = Password });
        using var unknown = await SendAsync(HttpMethod.Post, "/api/users/u-nobody/disable", AdminKey);
        using var notAdmin = await SendAsync(HttpMethod.Get, "/api/users", bearer: await LoginAsync((await RegisterAsync(NewEmail())).GetProperty("email").GetString()!));

        Assert.That(disable.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var listed = (await users.JsonAsync()).GetProperty("users").EnumerateArray().Single(u => u.GetProperty("id").GetString() == id);
        Assert.That(listed.GetProperty("disabled").GetBoolean(), Is.True);
        await session.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await byKey.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await login.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await unknown.AssertErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await notAdmin.AssertErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    /// <summary>A user with a submit key of their own, logged in first.</summary>
    private async Task<string> TenantKeyAsync()
    {
        var email = NewEmail();
        await RegisterAsync(email);
        return (await CreateKeyAsync(await LoginAsync(email), ApiScopes.Submit)).GetProperty("key").GetString()!;
    }

    [Test]
    public async Task A_tenant_sees_and_cancels_only_its_own_jobs_and_workflows_and_monitors_see_all()
    {
        var (a, b) = (await TenantKeyAsync(), await TenantKeyAsync());
        var nobody = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } };
        var job = await _silo.SubmitAsync(a, new { type = "simulation", requirements = nobody });
        using var created = await SendAsync(HttpMethod.Post, "/api/workflows/create", a,
            new { name = "mine", steps = new object[] { new { type = "simulation", requirements = nobody } } });
        var workflow = (await created.JsonAsync()).GetProperty("workflow_id").GetString()!;

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/jobs/{job}/status"), (HttpMethod.Get, $"/api/jobs/{job}/events"), (HttpMethod.Get, $"/api/jobs/{job}/webhooks"),
            (HttpMethod.Post, $"/api/jobs/{job}/cancel"), (HttpMethod.Post, $"/api/jobs/{job}/retry"),
        })
        {
            using var refused = await SendAsync(method, path, b);
            await refused.AssertErrorAsync(HttpStatusCode.NotFound, "JOB_NOT_FOUND");
        }
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/workflows/{workflow}/status"), (HttpMethod.Get, $"/api/workflows/{workflow}/webhooks"),
            (HttpMethod.Post, $"/api/workflows/{workflow}/cancel"), (HttpMethod.Post, $"/api/workflows/{workflow}/steps/0/retry"),
        })
        {
            using var refused = await SendAsync(method, path, b);
            await refused.AssertErrorAsync(HttpStatusCode.NotFound, "WORKFLOW_NOT_FOUND");
        }
        using var othersList = await SendAsync(HttpMethod.Get, "/api/workflows?limit=500", b);
        using var ownList = await SendAsync(HttpMethod.Get, "/api/workflows?limit=500", a);
        using var adminSees = await SendAsync(HttpMethod.Get, $"/api/jobs/{job}/status", AdminKey);
        using var ownCancel = await SendAsync(HttpMethod.Post, $"/api/jobs/{job}/cancel", a);

        static IEnumerable<string?> Ids(JsonElement list) => list.GetProperty("workflows").EnumerateArray().Select(w => w.GetProperty("id").GetString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Ids(await othersList.JsonAsync()), Does.Not.Contain(workflow));
            Assert.That(Ids(await ownList.JsonAsync()), Does.Contain(workflow));
            Assert.That(adminSees.StatusCode, Is.EqualTo(HttpStatusCode.OK), "admin sees every tenant's job");
            Assert.That(ownCancel.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a tenant cancels its own job");
        }
    }

    [Test]
    public async Task The_same_idempotency_key_from_two_tenants_makes_two_jobs()
    {
        var (a, b) = (await TenantKeyAsync(), await TenantKeyAsync());
        var key = "order-" + Guid.NewGuid().ToString("N");

        async Task<string> SubmitAsync(string apiKey)
        {
            var request = SiloProcess.Request(HttpMethod.Post, "/api/jobs/submit", apiKey, JsonContent.Create(new { type = "simulation" }));
            request.Headers.Add("Idempotency-Key", key);
            using var response = await _silo.Http.SendAsync(request);
            var body = await response.JsonAsync();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
            return body.GetProperty("job_id").GetString()!;
        }

        var (first, again, others) = (await SubmitAsync(a), await SubmitAsync(a), await SubmitAsync(b));

        Assert.That(again, Is.EqualTo(first), "one tenant's key is idempotent");
        Assert.That(others, Is.Not.EqualTo(first), "another tenant's same key makes its own job, and learns nothing of the first");
    }

    [Test]
    public async Task A_tenant_follows_its_own_job_over_the_websocket_but_not_another_tenants()
    {
        var (a, b) = (await TenantKeyAsync(), await TenantKeyAsync());
        var job = await _silo.SubmitAsync(a, new { type = "simulation", requirements = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } } });
        await using var own = await ProtocolClient.ConnectAsync(_silo, a);
        await using var other = await ProtocolClient.ConnectAsync(_silo, b);

        var followed = await own.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = new JsonObject { ["job_id"] = job } });
        var refused = await other.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = new JsonObject { ["job_id"] = job } });

        Assert.That(ProtocolClient.Text(followed["type"]), Is.EqualTo("subscribed"));
        Assert.That(ProtocolClient.Text(refused["error"]?["code"]), Is.EqualTo("JOB_NOT_FOUND"));
    }

    [Test]
    public async Task A_tenants_jobs_per_day_are_limited_whole_submissions_at_a_time_and_usage_shows_them()
    {
        var (a, b) = (await TenantKeyAsync(), await TenantKeyAsync());
        var job = new { type = "simulation", requirements = new { capabilities = new[] { "nobody-has-" + Guid.NewGuid().ToString("N") } } };
        for (var i = 0; i < JobsPerDay - 1; i++) await _silo.SubmitAsync(a, job);

        using var tooMany = await SendAsync(HttpMethod.Post, "/api/jobs/batch", a, new { jobs = new[] { job, job } });
        using var workflow = await SendAsync(HttpMethod.Post, "/api/workflows/create", a, new { name = "two", steps = new[] { job, job } });
        using var last = await SendAsync(HttpMethod.Post, "/api/jobs/submit", a, job);
        using var over = await SendAsync(HttpMethod.Post, "/api/jobs/submit", a, job);
        using var otherTenant = await SendAsync(HttpMethod.Post, "/api/jobs/submit", b, job);
        using var admin = await SendAsync(HttpMethod.Post, "/api/jobs/submit", AdminKey, job);
        using var usage = await SendAsync(HttpMethod.Get, "/api/usage", a);
        var body = await usage.JsonAsync();
        using var everyTenant = await SendAsync(HttpMethod.Get, "/api/usage/tenants", AdminKey);
        var tenants = (await everyTenant.JsonAsync()).GetProperty("tenants").EnumerateArray().ToDictionary(t => t.GetProperty("tenant").GetString()!, t => t.Clone());
        using var notForTenants = await SendAsync(HttpMethod.Get, "/api/usage/tenants", a);

        await tooMany.AssertErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        await workflow.AssertErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        await over.AssertErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(last.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a refused batch takes nothing of the day's count");
            Assert.That((await over.JsonAsync()).GetProperty("error").GetProperty("message").GetString(), Does.Contain("jobs per day"));
            Assert.That(over.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(TimeSpan.FromDays(1)));
            Assert.That(otherTenant.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another tenant has its own count");
            Assert.That(admin.StatusCode, Is.EqualTo(HttpStatusCode.OK), "work of no tenant is not limited");
            Assert.That(body.GetProperty("usage").GetProperty("jobs_today").GetInt64(), Is.EqualTo(JobsPerDay));
            Assert.That(body.GetProperty("limits").GetProperty("jobs_per_day").GetInt32(), Is.EqualTo(JobsPerDay));
            Assert.That(body.GetProperty("usage").GetProperty("pending_jobs").GetInt32(), Is.EqualTo(JobsPerDay), "no worker can run them: all wait");
            Assert.That(body.GetProperty("usage").GetProperty("running_jobs").GetInt32(), Is.Zero);
            Assert.That(body.GetProperty("limits").GetProperty("running_jobs").ValueKind, Is.EqualTo(JsonValueKind.Null), "no limit set");
            Assert.That(body.GetProperty("weight").GetDouble(), Is.EqualTo(1));
            var tenant = body.GetProperty("tenant").GetString()!;
            Assert.That(tenants[tenant].GetProperty("usage").GetProperty("jobs_today").GetInt64(), Is.EqualTo(JobsPerDay), "the admin's view of every tenant");
            Assert.That(tenants[tenant].GetProperty("email").GetString(), Does.EndWith("@example.test"));
            Assert.That(notForTenants.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "a tenant sees only its own usage");
        }
    }
}
