using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Silos;
using Cluster.Testing;
using Orleans.TestingHost;

namespace Cluster.IntegrationTests.Orleans;

/// <summary>The silo's Orleans configuration on a real redis-server: membership, grain storage and its serializer.</summary>
public sealed class ClusterRedisTests : RedisServerTest
{
    [Test]
    public async Task Two_silos_form_one_cluster_through_the_membership_table_in_Redis()
    {
        var cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 2);
        try
        {
            var hosts = await cluster.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            var tables = (string[])(await RedisServer.Database.ExecuteAsync("KEYS", cluster.Options.ServiceId + "/members/*"))!;

            using (Assert.EnterMultipleScope())
            {
                Assert.That(hosts, Has.Count.EqualTo(2));
                Assert.That(tables, Has.Length.EqualTo(1), "one membership table, in Redis");
            }
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Test]
    public async Task Grain_state_is_kept_in_Redis_in_Orleans_binary_form_and_outlives_the_cluster()
    {
        var serviceId = "probe-" + Guid.NewGuid().ToString("N")[..8];
        var first = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, serviceId);
        try
        {
            await first.Client.GetGrain<IProbeGrain>("p1").SetAsync(new ProbeState { Name = "lighthouse", Count = 7 });
        }
        finally
        {
            await first.DisposeAsync();
        }

        var keys = (string[])(await RedisServer.Database.ExecuteAsync("KEYS", serviceId + "/state/*"))!;
        Assert.That(keys, Has.Length.EqualTo(1), "the state is one Redis key under the service id");
        var stored = await RedisServer.Database.HashGetAsync(keys[0], "data");
        Assert.That(stored.ToString(), Does.Not.Contain("$type").And.Not.Contain("\"Name\""), "not the provider's default Newtonsoft JSON");

        var second = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, serviceId);
        try
        {
            var state = await second.Client.GetGrain<IProbeGrain>("p1").GetAsync();
            Assert.That(state, Is.EqualTo(new ProbeState { Name = "lighthouse", Count = 7 }));
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Test]
    public async Task Records_with_JSON_documents_cross_grain_calls_intact()
    {
        var cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 1);
        try
        {
            var job = new JobState
            {
                Id = "j1", Type = "img2img", Status = JobStatus.Pending,
                Payload = new JsonObject { ["prompt"] = "a lighthouse", ["sizes"] = new JsonArray(512, 1024), ["empty"] = new JsonArray() },
                Result = JsonValue.Create(42), Requirements = new JobRequirements { Capabilities = ["img2img"] },
            };

            var echoed = await cluster.Client.GetGrain<IProbeGrain>("echo").EchoAsync(job);

            Assert.That(echoed.Payload!.ToJsonString(), Is.EqualTo(job.Payload.ToJsonString()), "an empty array stays an array");
            Assert.That(echoed with { Payload = null, Result = null, Requirements = null }, Is.EqualTo(job with { Payload = null, Result = null, Requirements = null }));
            Assert.That(echoed.Result!.GetValue<int>(), Is.EqualTo(42));
            Assert.That(echoed.Requirements!.Capabilities, Is.EqualTo(new[] { "img2img" }));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Test]
    public async Task The_silo_directory_lists_recent_reports_and_forgets_stale_ones()
    {
        var cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 1);
        try
        {
            var directory = cluster.Client.GetGrain<ISiloDirectoryGrain>(ISiloDirectoryGrain.Key);
            await directory.ReportAsync(new SiloReport { SiloAddress = "a", ProcessId = 1, Addresses = "http://a", ReportedAt = DateTime.UtcNow });
            await directory.ReportAsync(new SiloReport { SiloAddress = "b", ProcessId = 2, Addresses = "http://b", ReportedAt = DateTime.UtcNow.AddMinutes(-5) });
            await directory.ReportAsync(new SiloReport { SiloAddress = "a", ProcessId = 1, Addresses = "http://a", Workers = 3, ReportedAt = DateTime.UtcNow });

            var reports = await directory.ListAsync();

            Assert.That(reports.Keys, Is.EquivalentTo(new[] { "a" }));
            Assert.That(reports["a"].Workers, Is.EqualTo(3), "the latest report wins");
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }
}

public interface IProbeGrain : IGrainWithStringKey
{
    Task SetAsync(ProbeState state);
    Task<ProbeState> GetAsync();
    Task<JobState> EchoAsync(JobState job);
}

[GenerateSerializer]
public sealed record ProbeState
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public int Count { get; init; }
}

public sealed class ProbeGrain([PersistentState("probe")] IPersistentState<ProbeState> state) : Grain, IProbeGrain
{
    public async Task SetAsync(ProbeState value)
    {
        state.State = value;
        await state.WriteStateAsync();
    }

    public Task<ProbeState> GetAsync() => Task.FromResult(state.State);

    public Task<JobState> EchoAsync(JobState job) => Task.FromResult(job);
}
