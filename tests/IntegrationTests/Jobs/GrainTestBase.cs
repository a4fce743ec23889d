using Cluster.Grains;
using Cluster.Grains.Functions;
using Cluster.Grains.Lua;
using Cluster.Grains.Redis;
using Cluster.IntegrationTests.Orleans;
using Orleans.TestingHost;
using StackExchange.Redis;
using IRedis = Cluster.Grains.Redis.IRedis;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>Which engine runs the jobs, workers and workflows under test.</summary>
public enum Engine
{
    /// <summary>The Lua functions in Redis.</summary>
    Lua,
    /// <summary>Orleans grains, on an in-process cluster whose storage, streams and membership are in the same redis-server.</summary>
    Orleans,
}

/// <summary>
/// One real redis-server per fixture, emptied before each test. A test class runs on each engine it names with
/// <c>[TestFixture(Engine.…)]</c>, asserting the same behaviour of both: the Lua engine gets the function library, the
/// Orleans engine a new cluster per test (its grains keep state in memory, which an emptied Redis would contradict).
/// </summary>
public abstract class GrainTestBase(Engine engine = Engine.Lua) : RedisServerTest
{
    private TestCluster? _cluster;

    protected Engine Engine { get; } = engine;
    /// <summary>Redis, to arrange and inspect what either engine keeps there.</summary>
    protected IDatabase Redis => RedisServer.Database;

    /// <summary>The project's own client, for tests of the Lua engine's functions (FCALL), which go with that engine.</summary>
    protected IRedis LuaClient => RedisServer.Client;
    protected GrainFactory Grains { get; private set; } = null!;

    /// <summary>The Orleans engine's cluster; only for tests that run on it.</summary>
    protected TestCluster Cluster => _cluster ?? throw new InvalidOperationException("This test runs on the Lua engine");

    protected virtual ClusterGrainOptions Options => new()
    {
        Lease = TimeSpan.FromSeconds(30),
        RetryBackoff = TimeSpan.FromMilliseconds(50),
    };

    [SetUp]
    public async Task ResetState()
    {
        await RedisServer.FlushAsync();
        if (Engine == Engine.Lua)
        {
            await FunctionLibrary.LoadAsync(LuaClient);
            Grains = new LuaGrainFactory(LuaClient, RedisServer.Multiplexer, Options);
            return;
        }
        _cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 1, timings: Options);
        Grains = new OrleansGrainFactory(_cluster.Client, RedisServer.Multiplexer, Options);
    }

    [TearDown]
    public async Task StopCluster()
    {
        if (_cluster is null) return;
        await _cluster.DisposeAsync();
        _cluster = null;
    }

    protected async Task<string> FcallAsync(string function, params string[] args)
    {
        var command = new RedisArg[args.Length + 2];
        command[0] = function;
        command[1] = 0;
        for (var i = 0; i < args.Length; i++) command[i + 2] = args[i];
        return (await LuaClient.ExecuteAsync("FCALL", command)).ToString();
    }
}
