using Cluster.Testing;
using System.Text.Json.Nodes;
using Cluster.Client.Connectors;

namespace Cluster.UnitTests.Client;

public class HttpConnectorTests
{
    [Test]
    public async Task A_200_JSON_reply_is_the_result_and_the_body_is_the_payload_without_the_clusters_fields()
    {
        string? received = null;
        using var server = new LocalHttpServer(async context =>
        {
            received = await LocalHttpServer.ReadBodyAsync(context.Request);
            await LocalHttpServer.WriteAsync(context.Response, 200, """{"response":"a lighthouse at dusk","done":true}""");
        });
        using var connector = new HttpConnector(new Uri(server.Address, "api/generate"), TimeSpan.FromSeconds(30));
        var payload = JsonNode.Parse("""
            {"type":"llm","priority":80,"requirements":{"gpu_memory":8},"max_retries":1,"timeout_ms":9000,"idempotency_key":"k1",
             "webhook_url":"https://example.test/hook","webhook_events":["progress"],"model":"llama3","prompt":"describe","stream":false}
            """)!.AsObject();

        var result = await connector.RunAsync(TestJobs.With(payload), new RecordingProgress(), TestJobs.Deadline());

        Assert.That(result!["response"]!.GetValue<string>(), Is.EqualTo("a lighthouse at dusk"));
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(received!), JsonNode.Parse("""{"model":"llama3","prompt":"describe","stream":false}""")), Is.True, received);
    }

    [Test]
    public async Task A_reply_that_is_not_JSON_becomes_text()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(200, "plain words", "text/plain"));
        using var connector = new HttpConnector(server.Address, TimeSpan.FromSeconds(30));

        var result = await connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline());

        Assert.That(result!["text"]!.GetValue<string>(), Is.EqualTo("plain words"));
    }

    [TestCase(500, true)]
    [TestCase(503, true)]
    [TestCase(429, true)]
    [TestCase(400, false)]
    [TestCase(404, false)]
    public void A_non_2xx_reply_fails_with_its_status_retryable_only_for_server_errors_and_rate_limits(int status, bool retryable)
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(status, """{"error":"nope"}"""));
        using var connector = new HttpConnector(server.Address, TimeSpan.FromSeconds(30));

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline()));

        Assert.That(failure!.Code, Is.EqualTo($"HTTP_{status}"));
        Assert.That(failure.Retryable, Is.EqualTo(retryable));
        Assert.That(failure.Message, Does.Contain("nope"));
    }

    [Test]
    public void A_service_that_does_not_answer_in_time_fails_with_HTTP_TIMEOUT_as_retryable()
    {
        var release = new TaskCompletionSource();
        using var server = new LocalHttpServer(async context =>
        {
            await release.Task;
            await LocalHttpServer.WriteAsync(context.Response, 200, "{}");
        });
        using var connector = new HttpConnector(server.Address, TimeSpan.FromMilliseconds(100));

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline()));
        release.SetResult();

        Assert.That(failure!.Code, Is.EqualTo("HTTP_TIMEOUT"));
        Assert.That(failure.Retryable, Is.True);
    }

    [Test]
    public void Cancelling_the_run_cancels_the_request_rather_than_failing_the_job()
    {
        var release = new TaskCompletionSource();
        using var server = new LocalHttpServer(async context =>
        {
            await release.Task;
            await LocalHttpServer.WriteAsync(context.Response, 200, "{}");
        });
        using var connector = new HttpConnector(server.Address, TimeSpan.FromSeconds(30));
        using var cancellation = new CancellationTokenSource();
        var progress = new RecordingProgress();

        var run = connector.RunAsync(TestJobs.With(), progress, cancellation.Token);
        cancellation.Cancel();

        Assert.That(async () => await run, Throws.InstanceOf<OperationCanceledException>());
        release.SetResult();
    }
}
