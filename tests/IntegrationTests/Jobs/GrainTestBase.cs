using Cluster.Grains;
using Cluster.Grains.Functions;
using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>One real redis-server per fixture, emptied and given the function library before each test.</summary>
public abstract class GrainTestBase
{
    private RedisFixture _redis = null!;

    protected IRedis Redis => _redis.Client;
    protected GrainFactory Grains { get; private set; } = null!;

    protected virtual ClusterGrainOptions Options => new()
    {
        Lease = TimeSpan.FromSeconds(30),
        RetryBackoff = TimeSpan.FromMilliseconds(50),
    };

    [OneTimeSetUp]
    public async Task StartRedis() => _redis = await RedisFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopRedis() => await _redis.DisposeAsync();

    [SetUp]
    public async Task ResetState()
    {
        await _redis.FlushAsync();
        await FunctionLibrary.LoadAsync(Redis);
        Grains = new GrainFactory(Redis, Options);
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
