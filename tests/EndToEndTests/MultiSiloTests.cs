using System.Text.Json.Nodes;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Two silos sharing one Redis: any silo serves any grain, and events cross silos through the streams.</summary>
public sealed class MultiSiloTests
{
    private const string Key = "e2e-multi-admin-key-0123456789abcdef";
    private SiloCluster _cluster = null!;
    private SiloProcess _a = null!;
    private SiloProcess _b = null!;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await SiloCluster.StartAsync(2, new SiloSettings { BootstrapApiKey = Key });
        (_a, _b) = (_cluster[0], _cluster[1]);
    }

    [OneTimeTearDown]
    public ValueTask StopCluster() => _cluster.DisposeAsync();

    [Test]
    public async Task Both_silos_are_listed_as_members()
    {
        var silos = await Eventually.HoldsAsync(async () =>
        {
            using var response = await _a.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/silos", Key));
            return (await response.JsonAsync()).GetProperty("silos");
        }, s => s.GetArrayLength() == 2 && s.EnumerateArray().All(e => e.GetProperty("pid").GetString() != ""),
            because: "both silos are active in Orleans membership and have reported themselves");

        var pids = silos.EnumerateArray().Select(s => int.Parse(s.GetProperty("pid").GetString()!)).Order().ToArray();
        Assert.That(pids, Is.EqualTo(new[] { _a.ProcessId, _b.ProcessId }.Order().ToArray()));
    }

    [Test]
    public async Task A_job_submitted_at_one_silo_reaches_a_worker_and_a_subscriber_on_the_other()
    {
        var capability = "cap-" + Guid.NewGuid().ToString("N")[..10];
        await using var subscriber = await ProtocolClient.ConnectAsync(_b, Key);
        var subscribed = await subscriber.CommandAsync(new JsonObject
        {
            ["type"] = "subscribe", ["topic"] = "jobs", ["filter"] = new JsonObject { ["machine_ids"] = new JsonArray("m-" + capability), ["event_types"] = new JsonArray("job_completed") },
        });
        Assert.That(ProtocolClient.Text(subscribed["type"]), Is.EqualTo("subscribed"));
        await using var worker = await RawWorker.ConnectAsync(_b, Key);
        await worker.RegisterAsync("w-" + capability, "m-" + capability, RawWorker.Capabilities(capability));

        var id = await _a.SubmitAsync(Key, new { type = "simulation", requirements = new { capabilities = new[] { capability } } });
        var assigned = await worker.NextAssignmentAsync();
        await worker.CommandAsync(new JsonObject { ["type"] = "complete", ["job_id"] = id, ["lease_token"] = assigned["lease_token"]!.DeepClone(), ["result"] = 42 });
        var completed = await subscriber.ReceiveAsync(f => ProtocolClient.Text(f["type"]) == "event");

        Assert.That(ProtocolClient.Text(assigned["job"]!["id"]), Is.EqualTo(id));
        Assert.That(ProtocolClient.Text(completed["event"]!["job_id"]), Is.EqualTo(id));
        Assert.That(completed["event"]!["result"]!.GetValue<int>(), Is.EqualTo(42));
    }
}
