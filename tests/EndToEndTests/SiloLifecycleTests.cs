using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Starting and stopping a real silo process, and the ways it refuses to start.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class SiloLifecycleTests
{
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(30);

    [Test]
    public async Task A_silo_with_embedded_Redis_is_ready_within_60_seconds()
    {
        await using var silo = await SiloProcess.StartReadyAsync(deadline: TimeSpan.FromSeconds(60));

        Assert.That(silo.EmbeddedRedisPid, Is.Not.Null, "the embedded redis-server writes its pid file");
        Assert.That(ProcessTools.IsAlive(silo.EmbeddedRedisPid!.Value), Is.True);
    }

    [Test]
    public async Task Readiness_reports_the_redis_server_it_answers_from_as_JSON()
    {
        await using var silo = await SiloProcess.StartReadyAsync();

        using var ready = await silo.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var live = await silo.Http.GetAsync(new Uri("/health/live", UriKind.Relative));
        var body = await ready.JsonAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("Healthy"));
            var redis = body.GetProperty("checks").GetProperty("redis").GetProperty("data");
            Assert.That(redis.GetProperty("redis").GetString(), Does.StartWith("127.0.0.1:"), "the embedded server, on loopback");
            Assert.That(redis.GetProperty("latency_ms").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That((int)live.StatusCode, Is.EqualTo(200));
            Assert.That((await live.JsonAsync()).GetProperty("status").GetString(), Is.EqualTo("Healthy"));
        }
    }

    [Test]
    public async Task SIGTERM_stops_the_silo_and_its_redis_server_within_10_seconds()
    {
        await using var silo = await SiloProcess.StartReadyAsync();
        var redisPid = silo.EmbeddedRedisPid ?? throw new AssertionException("no embedded redis-server pid file");

        silo.SendSigterm();
        var deadline = TimeSpan.FromSeconds(10);
        var started = DateTime.UtcNow;
        var exitCode = await silo.WaitForExitAsync(deadline);
        Assert.That(exitCode, Is.Zero, silo.Transcript());

        await Eventually.UntilAsync(() => Task.FromResult(!ProcessTools.IsAlive(redisPid)),
            $"redis-server (pid {redisPid}) still runs after the silo stopped", deadline - (DateTime.UtcNow - started));
    }

    [Test]
    public async Task SIGTERM_with_workers_and_subscribers_connected_still_stops_within_10_seconds_and_tells_them()
    {
        const string key = "e2e-stop-admin-key-0123456789abcdef";
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings { BootstrapApiKey = key });
        await using var worker = await RawWorker.ConnectAsync(silo, key);
        await worker.RegisterAsync("stop-w1", "stop-m1", RawWorker.Capabilities("stop"));
        await using var subscriber = await ProtocolClient.ConnectAsync(silo, key);
        await subscriber.CommandAsync(new System.Text.Json.Nodes.JsonObject { ["type"] = "subscribe", ["topic"] = "jobs" });

        silo.SendSigterm();
        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var workerClosedWith = await worker.WaitForCloseAsync(TimeSpan.FromSeconds(5));
        var subscriberClosedWith = await subscriber.WaitForCloseAsync(TimeSpan.FromSeconds(5));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, silo.Transcript());
            Assert.That(workerClosedWith, Is.EqualTo(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable), "the worker is told the silo is going away");
            Assert.That(subscriberClosedWith, Is.EqualTo(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable), "the subscriber is told the silo is going away");
            Assert.That(silo.Transcript(), Does.Not.Contain("Unhandled").And.Not.Contain("   at "));
        }
    }

    [Test]
    public async Task A_malformed_connection_string_stops_the_silo_with_one_clear_line_and_no_stack_trace()
    {
        await using var silo = SiloProcess.Start(new SiloSettings { RedisConnectionString = "localhost:notaport" });

        var exitCode = await silo.WaitForExitAsync(ExitDeadline);

        AssertOneClearError(silo, exitCode, "Redis__ConnectionString");
    }

    [Test]
    public async Task An_unreachable_Redis_stops_the_silo_with_one_clear_line_and_no_stack_trace()
    {
        var closedPort = FreePort.Take();
        await using var silo = SiloProcess.Start(new SiloSettings { RedisConnectionString = $"127.0.0.1:{closedPort}" });

        var exitCode = await silo.WaitForExitAsync(ExitDeadline);

        AssertOneClearError(silo, exitCode, $"cannot connect to Redis at 127.0.0.1:{closedPort}");
    }

    [Test]
    public async Task A_missing_redis_server_stops_the_silo_with_one_clear_line_and_no_stack_trace()
    {
        var emptyDirectory = Directory.CreateTempSubdirectory("cluster-no-redis-").FullName;
        try
        {
            await using var silo = SiloProcess.Start(new SiloSettings { Path = emptyDirectory });

            var exitCode = await silo.WaitForExitAsync(ExitDeadline);

            AssertOneClearError(silo, exitCode, "redis-server was not found on PATH");
        }
        finally
        {
            Directory.Delete(emptyDirectory);
        }
    }

    [Test]
    public async Task A_port_in_use_stops_the_silo_with_one_clear_line_and_no_stack_trace()
    {
        using var occupant = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((System.Net.IPEndPoint)occupant.LocalEndpoint).Port;
        await using var silo = SiloProcess.Start(new SiloSettings { Port = port });

        var exitCode = await silo.WaitForExitAsync(ExitDeadline);

        AssertOneClearError(silo, exitCode, $"Failed to bind to address http://127.0.0.1:{port}: address already in use");
    }

    [Test]
    public async Task A_silo_given_a_connection_string_starts_no_redis_server_of_its_own()
    {
        await using var redis = await RedisFixture.StartAsync();
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings { RedisConnectionString = redis.ConnectionString });

        var members = await redis.Database.KeyExistsAsync("cluster/members/cluster");
        var keys = await redis.Database.SetLengthAsync("apikeys");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Directory.Exists(Path.Combine(silo.DataDirectory, "redis")), Is.False, "no embedded server folder");
            Assert.That(ProcessTools.ChildrenOf(silo.ProcessId).Select(c => c.Name), Has.None.StartsWith("redis-server"));
            Assert.That(members, Is.True, "the silo's Orleans membership is in the shared server");
            Assert.That(keys, Is.EqualTo(1), "the bootstrap key is in the shared server");
        }
    }

    [Test]
    public async Task A_killed_silos_orphaned_redis_server_is_stopped_when_the_next_silo_starts_in_the_same_data_directory()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cluster-tests", "orphan-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var first = await SiloProcess.StartReadyAsync(new SiloSettings { DataDirectory = dataDirectory });
            var orphanPid = first.EmbeddedRedisPid ?? throw new AssertionException("no embedded redis-server pid file");
            first.KillHard();
            await first.WaitForExitAsync(ExitDeadline);
            Assert.That(ProcessTools.IsAlive(orphanPid), Is.True, "precondition: a silo killed hard leaves its redis-server running");

            await using var second = await SiloProcess.StartReadyAsync(new SiloSettings { DataDirectory = dataDirectory });

            using (Assert.EnterMultipleScope())
            {
                Assert.That(ProcessTools.IsAlive(orphanPid), Is.False, $"the orphaned redis-server (pid {orphanPid}) still runs");
                Assert.That(second.EmbeddedRedisPid, Is.Not.EqualTo(orphanPid));
            }
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    private static void AssertOneClearError(SiloProcess silo, int exitCode, string expected)
    {
        var stderr = silo.StandardError.Where(l => l.Trim().Length > 0).ToList();
        var everything = silo.Transcript();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Not.Zero, everything);
            Assert.That(stderr, Has.Count.EqualTo(1), everything);
            Assert.That(stderr.FirstOrDefault(), Does.StartWith("cluster-silo: ").And.Contain(expected), everything);
            Assert.That(everything, Does.Not.Contain("   at "), "no stack trace");
        }
    }
}
