using Cluster.Grains;
using Cluster.IntegrationTests.Orleans;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>
/// One real redis-server per fixture, emptied before each test, and a new in-process Orleans cluster per test on it
/// (its grains keep state in memory, which an emptied Redis would contradict): storage, streams and membership are
/// in that redis-server.
/// </summary>
public abstract class GrainTestBase : RedisServerTest
{
    private TestCluster? _cluster;

    /// <summary>Redis, to arrange and inspect what the grains keep there.</summary>
    protected IDatabase Redis => RedisServer.Database;
    protected GrainFactory Grains { get; private set; } = null!;
    protected TestCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster starts with each test");

    protected virtual ClusterGrainOptions Options => new()
    {
        Lease = TimeSpan.FromSeconds(30),
        RetryBackoff = TimeSpan.FromMilliseconds(50),
    };

    [SetUp]
    public async Task StartCluster()
    {
        await RedisServer.FlushAsync();
        _cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, timings: Options);
        Grains = new GrainFactory(_cluster.Client, RedisServer.Multiplexer, Options);
    }

    [TearDown]
    public async Task StopCluster()
    {
        if (_cluster is null) return;
        await _cluster.DisposeAsync();
        _cluster = null;
    }
}
