using Cluster.Testing;
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Cluster.Client.Api;

namespace Cluster.UnitTests.Client;

public class ClusterClientTests
{
    private const string Key = "test-key";

    [Test]
    public void A_refusal_becomes_a_ClusterApiException_with_the_status_code_and_message_of_the_reply()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(409,
            """{"success":false,"error":{"code":"INVALID_STATE","message":"Job job-1 is completed and cannot be cancelled"}}"""));
        using var client = new ClusterClient(server.Address, Key);

        var refusal = Assert.ThrowsAsync<ClusterApiException>(() => client.CancelAsync("job-1"));

        Assert.That(refusal!.StatusCode, Is.EqualTo(409));
        Assert.That(refusal.Code, Is.EqualTo("INVALID_STATE"));
        Assert.That(refusal.Message, Is.EqualTo("Job job-1 is completed and cannot be cancelled"));
    }

    [Test]
    public void A_refusal_without_the_error_shape_gets_an_HTTP_status_code()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(502, "<html>bad gateway</html>", "text/html"));
        using var client = new ClusterClient(server.Address, Key);

        var refusal = Assert.ThrowsAsync<ClusterApiException>(() => client.ListMachinesAsync());

        Assert.That(refusal!.Code, Is.EqualTo("HTTP_502"));
        Assert.That(refusal.Message, Does.Contain("bad gateway"));
    }

    [Test]
    public async Task A_silo_that_cannot_be_reached_is_passed_over_for_the_next_and_the_client_stays_with_the_one_that_answered()
    {
        var bodies = new ConcurrentQueue<string>();
        using var live = new LocalHttpServer(async context =>
        {
            bodies.Enqueue(await LocalHttpServer.ReadBodyAsync(context.Request));
            await LocalHttpServer.WriteAsync(context.Response, 200, """{"success":true,"job_id":"job-1","status":"submitted"}""");
        });
        // Nothing listens there: the connection is refused, so nothing was sent and trying elsewhere is safe.
        var dead = new Uri($"http://127.0.0.1:{FreePort.Take()}/");
        using var client = new ClusterClient([dead, live.Address], Key);

        var first = await client.SubmitAsync(new JsonObject { ["type"] = "simulation" });
        var second = await client.SubmitAsync(new JsonObject { ["type"] = "simulation" });

        Assert.That((first.JobId, second.JobId), Is.EqualTo(("job-1", "job-1")));
        Assert.That(bodies.Select(b => JsonNode.Parse(b)!["type"]!.GetValue<string>()), Is.EqualTo(new[] { "simulation", "simulation" }), "the body went along");
        Assert.That(client.BaseAddress.Port, Is.EqualTo(live.Address.Port), "the client stays with the silo that answered");
    }

    [Test]
    public void When_no_silo_can_be_reached_the_connection_error_is_thrown()
    {
        using var client = new ClusterClient([new Uri($"http://127.0.0.1:{FreePort.Take()}/"), new Uri($"http://127.0.0.1:{FreePort.Take()}/")], Key);

        var error = Assert.ThrowsAsync<HttpRequestException>(() => client.ListMachinesAsync());

        Assert.That(error!.HttpRequestError, Is.EqualTo(HttpRequestError.ConnectionError));
    }

    [Test]
    public async Task An_unknown_job_has_no_status()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(404, """{"success":false,"error":{"code":"JOB_NOT_FOUND","message":"Job not found: nope"}}"""));
        using var client = new ClusterClient(server.Address, Key);

        Assert.That(await client.GetStatusAsync("nope"), Is.Null);
    }

    [Test]
    public async Task Submitting_sends_the_key_and_the_job_and_reads_the_id_and_the_duplicate_flag()
    {
        var requests = new ConcurrentQueue<(string Method, string Path, string? Key, string? Idempotency, string Body)>();
        using var server = new LocalHttpServer(async context =>
        {
            requests.Enqueue((context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.Headers["x-api-key"],
                context.Request.Headers["Idempotency-Key"], await LocalHttpServer.ReadBodyAsync(context.Request)));
            await LocalHttpServer.WriteAsync(context.Response, 200, """{"success":true,"job_id":"job-7","status":"submitted","duplicate":true}""");
        });
        using var client = new ClusterClient(server.Address, Key);

        var submitted = await client.SubmitAsync(new JsonObject { ["type"] = "text-to-image", ["prompt"] = "a lighthouse" }, idempotencyKey: "once");

        Assert.That(submitted, Is.EqualTo(new SubmitResult("job-7", Duplicate: true)));
        Assert.That(requests.TryDequeue(out var request), Is.True);
        Assert.That(request.Method, Is.EqualTo("POST"));
        Assert.That(request.Path, Is.EqualTo("/api/jobs/submit"));
        Assert.That(request.Key, Is.EqualTo(Key));
        Assert.That(request.Idempotency, Is.EqualTo("once"));
        Assert.That(JsonNode.Parse(request.Body)!["prompt"]!.GetValue<string>(), Is.EqualTo("a lighthouse"));
    }

    [Test]
    public async Task Listing_jobs_passes_the_filters_and_returns_the_next_cursor()
    {
        string? query = null;
        using var server = new LocalHttpServer(async context =>
        {
            query = context.Request.Url!.Query;
            await LocalHttpServer.WriteAsync(context.Response, 200,
                """{"success":true,"jobs":[{"id":"j1","type":"t","status":"pending","priority":50,"progress":0}],"next_cursor":"c2"}""");
        });
        using var client = new ClusterClient(server.Address, Key);

        var page = await client.ListJobsAsync(new JobListFilter { Status = "pending", Type = "t" }, cursor: "c1", limit: 10);

        Assert.That(page.Items.Select(j => j.Id), Is.EqualTo(new[] { "j1" }));
        Assert.That(page.NextCursor, Is.EqualTo("c2"));
        Assert.That(query, Is.EqualTo("?status=pending&type=t&cursor=c1&limit=10"));
    }

    [Test]
    public async Task Watching_yields_each_change_and_ends_at_a_terminal_status()
    {
        string[] replies =
        [
            """{"success":true,"job":{"id":"j1","type":"t","status":"pending"}}""",
            """{"success":true,"job":{"id":"j1","type":"t","status":"pending"}}""",
            """{"success":true,"job":{"id":"j1","type":"t","status":"running","progress":50}}""",
            """{"success":true,"job":{"id":"j1","type":"t","status":"completed","progress":100,"result":{"ok":true}}}""",
        ];
        var served = 0;
        using var server = new LocalHttpServer(context =>
            LocalHttpServer.WriteAsync(context.Response, 200, replies[Math.Min(Interlocked.Increment(ref served) - 1, replies.Length - 1)]));
        using var client = new ClusterClient(server.Address, Key) { WatchInterval = TimeSpan.FromMilliseconds(1) };

        var seen = new List<string>();
        await foreach (var job in client.WatchAsync("j1", TestJobs.Deadline())) seen.Add(job.Status);

        Assert.That(seen, Is.EqualTo(new[] { "pending", "running", "completed" }));
    }

    [Test]
    public void A_silo_that_is_not_listening_is_an_HttpRequestException()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(200, "{}"));
        var address = server.Address;
        server.Dispose();
        using var client = new ClusterClient(address, Key);

        Assert.That(() => client.GetStatusAsync("j1"), Throws.InstanceOf<HttpRequestException>());
    }
}
