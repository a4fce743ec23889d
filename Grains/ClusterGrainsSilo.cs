using Cluster.Grains.Jobs;
using Cluster.Grains.Storage;
using Cluster.Grains.Streaming;

namespace Cluster.Grains;

/// <summary>What a silo needs to run the grains.</summary>
public static class ClusterGrainsSilo
{
    /// <summary>The topic streams (<c>events:{topic}</c>) the grains publish on and the outbox storage they write through.</summary>
    public const string StreamProvider = "events";

    /// <summary>
    /// The stream provider on Redis Streams, the outbox grain storage (<see cref="JobGrain.Storage"/>) that writes a grain's
    /// state and its events in one step, and the sweeper grain, started with the silo.
    /// </summary>
    public static ISiloBuilder AddClusterGrains(this ISiloBuilder silo, Action<RedisStreamOptions>? streams = null)
    {
        silo.AddRedisStreams(StreamProvider, options => streams?.Invoke(options));
        silo.AddOutboxGrainStorage(JobGrain.Storage, options => options.StreamProvider = StreamProvider);
        silo.AddClusterSweeper();
        return silo;
    }
}
