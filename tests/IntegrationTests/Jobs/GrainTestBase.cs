using Cluster.Grains;
using Cluster.Grains.Functions;
using Cluster.Grains.Redis;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>One real redis-server per fixture, emptied and given the function library before each test.</summary>
public abstract class GrainTestBase : RedisServerTest
{
    protected IRedis Redis => RedisServer.Client;
    protected GrainFactory Grains { get; private set; } = null!;

    protected virtual ClusterGrainOptions Options => new()
    {
        Lease = TimeSpan.FromSeconds(30),
        RetryBackoff = TimeSpan.FromMilliseconds(50),
    };

    [SetUp]
    public async Task ResetState()
    {
        await RedisServer.FlushAsync();
        await FunctionLibrary.LoadAsync(Redis);
        Grains = new Cluster.Grains.Lua.LuaGrainFactory(Redis, Options);
    }

    protected async Task<string> FcallAsync(string function, params string[] args)
    {
        var command = new RedisArg[args.Length + 2];
        command[0] = function;
        command[1] = 0;
        for (var i = 0; i < args.Length; i++) command[i + 2] = args[i];
        return (await Redis.ExecuteAsync("FCALL", command)).ToString();
    }
}
