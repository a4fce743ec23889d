using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>The gateway protocol v1 on /ws against a real silo: subscriptions, resume, seed messages, limits.</summary>
public sealed class GatewayProtocolTests
{
    private const string Key = "e2e-gateway-admin-key-0123456789abcdef";
    private SiloProcess _silo = null!;

    [OneTimeSetUp]
    public async Task StartSilo() => _silo = await SiloProcess.StartReadyAsync(new SiloSettings
    {
        BootstrapApiKey = Key,
        Environment = new Dictionary<string, string>
        {
            ["Gateway__SendQueueFrames"] = "50",
            // Short enough that the silent-client test ends quickly, long enough (9 s of silence) for the lag test.
            ["Gateway__HeartbeatInterval"] = "00:00:03",
        },
    });

    [OneTimeTearDown]
    public async Task StopSilo() => await _silo.DisposeAsync();

    private static string UniqueType() => "t" + Guid.NewGuid().ToString("N")[..10];

    private Task<string> SubmitAsync(string capability) =>
        _silo.SubmitAsync(Key, new { type = "simulation", requirements = new { capabilities = new[] { capability } } });

    private static async Task<string> SubscribeAsync(ProtocolClient client, JsonObject filter, string? since = null)
    {
        var frame = new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = filter.DeepClone() };
        if (since is not null) frame["since"] = since;
        var reply = await client.CommandAsync(frame);
        Assert.That(ProtocolClient.Text(reply["type"]), Is.EqualTo("subscribed"), reply.ToJsonString() + " for " + frame.ToJsonString());
        return ProtocolClient.Text(reply["subscription"]);
    }

    private static Task<JsonObject> NextEventAsync(ProtocolClient client) =>
        client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) is "event" or "lagged");

    private async Task<ProtocolClient> ConnectAnsweringPingsAsync()
    {
        var client = await ProtocolClient.ConnectAsync(_silo, Key);
        var welcome = await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "welcome");
        Assert.That(welcome["heartbeat_ms"]!.GetValue<long>(), Is.EqualTo(3000));
        return client;
    }

    [Test]
    public async Task A_subscriber_sees_the_events_its_filter_selects_in_order()
    {
        var capability = UniqueType();
        await using var client = await ConnectAnsweringPingsAsync();
        var subscription = await SubscribeAsync(client, new JsonObject { ["event_types"] = new JsonArray("job_submitted"), ["job_types"] = new JsonArray("simulation") });

        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await SubmitAsync(capability));
        var seen = new List<JsonObject>();
        while (seen.Count(e => ids.Contains(ProtocolClient.Text(e["event"]!["job_id"]))) < 3) seen.Add(await NextEventAsync(client));

        var mine = seen.Where(e => ids.Contains(ProtocolClient.Text(e["event"]!["job_id"]))).ToList();
        Assert.That(mine.Select(e => ProtocolClient.Text(e["event"]!["job_id"])), Is.EqualTo(ids));
        Assert.That(mine.All(e => ProtocolClient.Text(e["subscription"]) == subscription && ProtocolClient.Text(e["event"]!["type"]) == "job_submitted"), Is.True);
        Assert.That(seen.Select(e => ProtocolClient.Text(e["event_id"])), Is.Ordered.Using<string>(Grains.Streams.StreamIds.Compare));
    }

    [Test]
    public async Task An_event_appended_as_soon_as_the_subscribe_is_answered_is_delivered()
    {
        // A silo of its own follows none of these streams yet, so each subscribe starts its stream's tail: the answer
        // must wait until the tail knows where it starts and the subscription is attached to it.
        await using var cluster = await SiloCluster.StartAsync(1, new SiloSettings { BootstrapApiKey = Key });
        await using var client = await ProtocolClient.ConnectAsync(cluster[0], Key);
        foreach (var topic in new[] { "workers", "machines", "silos" })
        {
            var reply = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = topic });
            Assert.That(ProtocolClient.Text(reply["type"]), Is.EqualTo("subscribed"), reply.ToJsonString());
            var marker = Guid.NewGuid().ToString("N");
            var id = await cluster.Redis.Database.StreamAddAsync("events:" + topic, [new("type", "probe"), new("probe", marker)]);

            var delivered = await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "event" && ProtocolClient.Text(f["event"]!["probe"]) == marker);
            Assert.That(ProtocolClient.Text(delivered["event_id"]), Is.EqualTo(id.ToString()), topic);
        }
    }

    [Test]
    public async Task Resuming_after_a_dropped_connection_loses_and_repeats_nothing()
    {
        var capability = UniqueType();
        var filter = new JsonObject { ["event_types"] = new JsonArray("job_submitted") };
        var first = await ConnectAnsweringPingsAsync();
        await SubscribeAsync(first, filter);
        var submitted = new List<string>();
        for (var i = 0; i < 5; i++) submitted.Add(await SubmitAsync(capability));
        var received = new List<JsonObject>();
        while (received.Count(e => submitted.Contains(ProtocolClient.Text(e["event"]!["job_id"]))) < 5) received.Add(await NextEventAsync(first));
        var lastSeen = ProtocolClient.Text(received[^1]["event_id"]);
        first.Abort();
        await first.DisposeAsync();

        for (var i = 0; i < 7; i++) submitted.Add(await SubmitAsync(capability));
        await using var second = await ConnectAnsweringPingsAsync();
        await SubscribeAsync(second, filter, since: lastSeen);
        for (var i = 0; i < 3; i++) submitted.Add(await SubmitAsync(capability));
        while (received.Count(e => submitted.Contains(ProtocolClient.Text(e["event"]!["job_id"]))) < 15) received.Add(await NextEventAsync(second));

        var mine = received.Select(e => ProtocolClient.Text(e["event"]!["job_id"])).Where(submitted.Contains).ToList();
        Assert.That(mine, Is.EqualTo(submitted), "every job once, in submission order");
        var eventIds = received.Select(e => ProtocolClient.Text(e["event_id"])).ToList();
        Assert.That(eventIds, Is.Unique);
        Assert.That(eventIds, Is.Ordered.Using<string>(Grains.Streams.StreamIds.Compare));
    }

    [Test]
    public async Task Seed_subscribe_job_gets_assigned_progress_and_completed_messages()
    {
        var capability = UniqueType();
        await using var client = await ConnectAnsweringPingsAsync();
        var id = await SubmitAsync(capability);
        await client.SendAsync(new JsonObject { ["type"] = "subscribe_job", ["job_id"] = id });
        await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "subscribed");
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability));

        var assigned = await worker.NextAssignmentAsync();
        var token = assigned["lease_token"]!.DeepClone();
        foreach (var progress in new[] { 25, 75 })
            await worker.CommandAsync(new JsonObject { ["type"] = "progress", ["job_id"] = id, ["lease_token"] = token.DeepClone(), ["progress"] = progress });
        await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = token.DeepClone(), ["result"] = new JsonObject { ["image_url"] = "https://x.test/i.png" } });

        var messages = new List<JsonObject>();
        while (messages.All(m => ProtocolClient.Text(m["type"]) != "job_completed"))
            messages.Add(await client.ReceiveAsync(f => ProtocolClient.Text(f["job_id"]) == id));
        Assert.That(messages.Select(m => ProtocolClient.Text(m["type"])), Is.EqualTo(new[] { "job_assigned", "job_progress", "job_progress", "job_completed" }));
        Assert.That(messages[1]["progress"]!.GetValue<double>(), Is.EqualTo(25));
        Assert.That(ProtocolClient.Text(messages[0]["worker_id"]), Is.EqualTo("w-" + capability));
        Assert.That(ProtocolClient.Text(messages[3]["result"]!["image_url"]), Is.EqualTo("https://x.test/i.png"));
    }

    [Test]
    public async Task Invalid_frames_get_error_frames_and_the_connection_stays_open()
    {
        await using var client = await ConnectAnsweringPingsAsync();

        await client.SendTextAsync("{not json");
        var notJson = await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "error");
        var unknown = await client.CommandAsync(new JsonObject { ["type"] = "shout" });
        var version = await client.CommandAsync(new JsonObject { ["v"] = 9, ["type"] = "ping" });
        var topic = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "weather" });
        var since = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["since"] = "yesterday" });
        var filter = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = new JsonObject { ["machine_ids"] = "gpu-1" } });
        var unsubscribe = await client.CommandAsync(new JsonObject { ["type"] = "unsubscribe", ["subscription"] = "s999" });
        await client.SendTextAsync(new string('x', 70 * 1024));
        var large = await client.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "error" && ProtocolClient.Text(f["error"]!["code"]) == "FRAME_TOO_LARGE");
        var pong = await client.CommandAsync(new JsonObject { ["type"] = "ping" });

        Assert.That(ProtocolClient.Text(notJson["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(ProtocolClient.Text(unknown["error"]!["code"]), Is.EqualTo("UNKNOWN_TYPE"));
        Assert.That(ProtocolClient.Text(version["error"]!["code"]), Is.EqualTo("UNSUPPORTED_VERSION"));
        Assert.That(ProtocolClient.Text(topic["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(ProtocolClient.Text(since["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(ProtocolClient.Text(filter["error"]!["code"]), Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(ProtocolClient.Text(unsubscribe["error"]!["code"]), Is.EqualTo("NOT_FOUND"));
        Assert.That(large, Is.Not.Null);
        Assert.That(ProtocolClient.Text(pong["type"]), Is.EqualTo("pong"));
    }

    [Test]
    public async Task A_client_that_reads_nothing_is_told_it_lagged_and_resumes_from_there_without_gaps()
    {
        var capability = UniqueType();
        var filter = new JsonObject { ["event_types"] = new JsonArray("job_completed"), ["machine_ids"] = new JsonArray("m-" + capability) };
        // The jobs wait for their worker, so that the client is silent only while they complete: it reads nothing,
        // so answers no ping, and a client silent for three heartbeats is dropped.
        for (var i = 0; i < 200; i++) await SubmitAsync(capability);
        await using var client = await ConnectAnsweringPingsAsync();
        await SubscribeAsync(client, filter);
        await using var worker = await RawWorker.ConnectAsync(_silo, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability), concurrency: 64);

        // 200 completions with 32 KB results (6 MB of events) overflow the socket buffers and then the 50-frame send
        // queue, while the client reads nothing. They are sent without waiting for each answer, as an agent sends them.
        var bulky = new JsonObject { ["blob"] = new string('x', 32 * 1024) };
        var completed = new List<string>();
        while (completed.Count < 200)
        {
            var assigned = await worker.NextAssignmentAsync();
            var id = ProtocolClient.Text(assigned["job"]!["id"]);
            await worker.SendAsync(new JsonObject { ["v"] = 1, ["type"] = "complete", ["job_id"] = id, ["lease_token"] = assigned["lease_token"]!.DeepClone(), ["result"] = bulky.DeepClone() });
            completed.Add(id);
        }
        for (var i = 0; i < completed.Count; i++)
        {
            var answer = await worker.ReceiveAsync(f => ProtocolClient.Text(f["type"]) is "ack" or "error");
            Assert.That(ProtocolClient.Text(answer["type"]), Is.EqualTo("ack"), answer.ToJsonString());
        }

        var received = new List<string>();
        JsonObject frame;
        while (ProtocolClient.Text((frame = await NextEventAsync(client))["type"]) == "event") received.Add(ProtocolClient.Text(frame["event"]!["job_id"]));
        var beforeLag = received.Count;
        await SubscribeAsync(client, filter, since: ProtocolClient.Text(frame["last_event_id"]));
        while (received.Count < 200) received.Add(ProtocolClient.Text((await NextEventAsync(client))["event"]!["job_id"]));

        Assert.That(ProtocolClient.Text(frame["type"]), Is.EqualTo("lagged"));
        Assert.That(beforeLag, Is.LessThan(200), "the bounded queue overflowed before the client read");
        Assert.That(received, Is.EqualTo(completed), "after resuming, every completion once and in order");
    }

    [Test]
    public async Task A_client_that_stops_answering_pings_is_disconnected()
    {
        await using var client = await ProtocolClient.ConnectAsync(_silo, Key);

        await client.WaitForCloseAsync(TimeSpan.FromSeconds(20));

        Assert.That(client.State, Is.Not.EqualTo(System.Net.WebSockets.WebSocketState.Open));
    }

    [Test]
    public async Task A_key_without_monitor_scope_may_follow_a_job_but_not_the_whole_stream()
    {
        using var created = await _silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", Key, JsonContent.Create(new { name = "service", scopes = new[] { "submit" } })));
        var submitKey = (await created.JsonAsync()).GetProperty("key").GetString()!;
        await using var client = await ProtocolClient.ConnectAsync(_silo, submitKey);

        var everything = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs" });
        var oneJob = await client.CommandAsync(new JsonObject { ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = new JsonObject { ["job_id"] = "some-job" } });

        Assert.That(ProtocolClient.Text(everything["error"]!["code"]), Is.EqualTo("FORBIDDEN"));
        Assert.That(ProtocolClient.Text(oneJob["type"]), Is.EqualTo("subscribed"));
    }
}
