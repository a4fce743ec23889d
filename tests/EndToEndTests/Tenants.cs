using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>New tenants on a silo whose registration is open (<c>Auth__Registration=open</c>), and what tests read of their jobs.</summary>
internal static class Tenants
{
    public const string Password = "correct horse battery";

    /// <summary>Registers a new user, logs in and makes a <c>submit</c> key: the key of a new tenant.</summary>
    public static async Task<string> NewSubmitKeyAsync(SiloProcess silo)
    {
        var email = $"tenant-{Guid.NewGuid():N}@example.test";
        using (var registered = await silo.Http.PostAsJsonAsync("/api/auth/register", new { email, password = Password }))
            Assert.That(registered.StatusCode, Is.EqualTo(HttpStatusCode.Created), await registered.Content.ReadAsStringAsync());
        using var login = await silo.Http.PostAsJsonAsync("/api/auth/login", new { email, password = Password });
        var token = (await login.JsonAsync()).GetProperty("token").GetString()!;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/keys") { Content = JsonContent.Create(new { name = "jobs", scopes = new[] { ApiScopes.Submit } }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var created = await silo.Http.SendAsync(request);
        var body = await created.JsonAsync();
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        return body.GetProperty("key").GetString()!;
    }

    /// <summary>Submits <paramref name="job"/> <paramref name="count"/> times in one batch; the new jobs' ids.</summary>
    public static async Task<string[]> SubmitBatchAsync(SiloProcess silo, string key, object job, int count)
    {
        using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/batch", key,
            JsonContent.Create(new { jobs = Enumerable.Repeat(job, count) })));
        var body = await response.JsonAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return [.. body.GetProperty("job_ids").EnumerateArray().Select(id => id.GetString()!)];
    }

    /// <summary>Every job of <paramref name="status"/>, page by page, through a monitor or admin key.</summary>
    public static async Task<List<JsonElement>> ListAsync(SiloProcess silo, string monitorKey, string status)
    {
        var jobs = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var path = $"/api/jobs?status={status}&limit=500" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, path, monitorKey));
            var body = await response.JsonAsync();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
            jobs.AddRange(body.GetProperty("jobs").EnumerateArray().Select(j => j.Clone()));
            cursor = body.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
        return jobs;
    }
}
