using Cluster.Grains.Jobs;
using Cluster.Grains.Storage;
using Cluster.Grains.Streaming;

namespace Cluster.Grains;

/// <summary>The engines that can run jobs, workers and workflows (<c>Cluster:Engine</c>); <see cref="Default"/> unless configured.</summary>
public static class Engines
{
    public const string Lua = "lua";
    public const string Orleans = "orleans";
    public const string Default = Orleans;
    public static readonly IReadOnlyList<string> All = [Lua, Orleans];

    /// <summary>The topic streams (<c>events:{topic}</c>) the grains publish on and the outbox storage they write through.</summary>
    public const string StreamProvider = "events";

    /// <summary>
    /// What a silo needs to run the Orleans engine: the stream provider on Redis Streams, the outbox grain storage
    /// (<see cref="JobGrain.Storage"/>) that writes a grain's state and its events in one step, and the sweeper grain,
    /// started with the silo. Never on a Lua-engine silo: the sweeper would act on the keys the Lua functions keep.
    /// </summary>
    public static ISiloBuilder AddClusterGrainEngine(this ISiloBuilder silo, Action<RedisStreamOptions>? streams = null)
    {
        silo.AddRedisStreams(StreamProvider, options => streams?.Invoke(options));
        silo.AddOutboxGrainStorage(JobGrain.Storage, options => options.StreamProvider = StreamProvider);
        silo.AddClusterSweeper();
        return silo;
    }
}
