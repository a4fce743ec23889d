using Cluster.Testing;
using System.Text.Json.Nodes;

namespace Cluster.UnitTests.Client;

public class CliTests
{
    [Test]
    public async Task A_refused_key_is_one_clear_line_and_a_non_zero_exit()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(401, """{"success":false,"error":{"code":"UNAUTHORIZED","message":"Invalid API key"}}"""));
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("status", "j1", "--silo", server.Address.ToString(), "--api-key", "wrong-key");

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(test.Error.ToString().Trim(), Does.StartWith("error: unauthorized").And.Not.Contain("\n"));
        Assert.That(test.Error.ToString() + test.Out, Does.Not.Contain("wrong-key"), "the key is never printed");
    }

    [Test]
    public async Task A_silo_that_is_not_listening_is_reported_as_unreachable_with_exit_code_3()
    {
        var server = new LocalHttpServer(LocalHttpServer.Reply(200, "{}"));
        var address = server.Address.ToString();
        server.Dispose();
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("jobs", "--silo", address, "--api-key", "k");

        Assert.That(exitCode, Is.EqualTo(3));
        Assert.That(test.Error.ToString(), Does.Contain("cannot reach the silo"));
    }

    [Test]
    public async Task Without_any_api_key_the_cli_says_where_to_put_one()
    {
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("jobs");

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(test.Error.ToString(), Does.Contain("CLUSTER_API_KEY"));
    }

    [Test]
    public async Task Submit_builds_the_job_from_its_options_and_prints_the_id()
    {
        JsonNode? body = null;
        using var server = new LocalHttpServer(async context =>
        {
            body = JsonNode.Parse(await LocalHttpServer.ReadBodyAsync(context.Request));
            await LocalHttpServer.WriteAsync(context.Response, 200, """{"success":true,"job_id":"job-9","status":"submitted"}""");
        });
        using var test = new CliTestEnvironment(("CLUSTER_URL", server.Address.ToString()), ("CLUSTER_API_KEY", "k"));

        var exitCode = await test.RunAsync("submit", "--type", "text-to-image", "--priority", "80",
            "--payload", """{"prompt":"a lighthouse"}""", "--requirements", """{"gpu_memory":16}""");

        Assert.That(exitCode, Is.EqualTo(0));
        Assert.That(test.Out.ToString().Trim(), Is.EqualTo("job-9"));
        Assert.That(JsonNode.DeepEquals(body, JsonNode.Parse("""{"prompt":"a lighthouse","type":"text-to-image","priority":80,"requirements":{"gpu_memory":16}}""")),
            Is.True, body?.ToJsonString());
    }

    [Test]
    public async Task Submit_with_wait_exits_non_zero_when_the_job_ends_dead()
    {
        using var server = new LocalHttpServer(context => context.Request.HttpMethod == "POST"
            ? LocalHttpServer.WriteAsync(context.Response, 200, """{"success":true,"job_id":"job-9","status":"submitted"}""")
            : LocalHttpServer.WriteAsync(context.Response, 200,
                """{"success":true,"job":{"id":"job-9","type":"t","status":"dead","error":{"code":"SIMULATED_FAILURE","message":"boom"}}}"""));
        using var test = new CliTestEnvironment(("CLUSTER_URL", server.Address.ToString()), ("CLUSTER_API_KEY", "k"));

        var exitCode = await test.RunAsync("submit", "--type", "t", "--wait");

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(test.Error.ToString(), Does.Contain("dead").And.Contain("SIMULATED_FAILURE"));
    }

    [Test]
    public async Task A_payload_that_is_not_JSON_is_a_usage_error_and_nothing_is_sent()
    {
        var requests = 0;
        using var server = new LocalHttpServer(context =>
        {
            Interlocked.Increment(ref requests);
            return LocalHttpServer.WriteAsync(context.Response, 200, "{}");
        });
        using var test = new CliTestEnvironment(("CLUSTER_URL", server.Address.ToString()), ("CLUSTER_API_KEY", "k"));

        var exitCode = await test.RunAsync("submit", "--type", "t", "--payload", "{oops");

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(requests, Is.Zero);
    }

    [Test]
    public async Task Jobs_prints_a_table_and_the_next_cursor()
    {
        using var server = new LocalHttpServer(LocalHttpServer.Reply(200,
            """{"success":true,"jobs":[{"id":"j1","type":"t","status":"running","priority":50,"progress":40,"worker_id":"m1-gpu0"}],"next_cursor":"c2"}"""));
        using var test = new CliTestEnvironment(("CLUSTER_URL", server.Address.ToString()), ("CLUSTER_API_KEY", "k"));

        Assert.That(await test.RunAsync("jobs", "--status", "running"), Is.EqualTo(0));

        var lines = test.Out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("ID"));
        Assert.That(lines[1], Does.Contain("j1").And.Contain("running").And.Contain("40%").And.Contain("m1-gpu0"));
        Assert.That(lines[^1].Trim(), Is.EqualTo("next: --cursor c2"));
    }
}
