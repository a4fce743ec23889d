using Cluster.Grains.Jobs;
using Cluster.Grains.Storage;
using Cluster.Grains.Streaming;
using Cluster.Grains.Workflows;

namespace Cluster.Grains;

/// <summary>What a silo needs to run the grains.</summary>
public static class ClusterGrainsSilo
{
    /// <summary>The topic streams (<c>events:{topic}</c>) the grains publish on and the outbox storage they write through.</summary>
    public const string StreamProvider = "events";

    /// <summary>
    /// The topics a grain subscribes to, which the stream provider's pulling agents read: the workflow steps that ended,
    /// for <see cref="WorkflowStepRelayGrain"/>. A grain that subscribes to another topic needs it added here. The others
    /// (every job, worker and workflow event) are read only by the gateway's tails, which follow them with <c>XREAD</c>,
    /// and by the webhook consumer's group on <c>hooks</c>: pulling them too would cost Redis an <c>XREADGROUP</c> and an
    /// <c>XACK</c> for each of the three events of every job, for no subscriber.
    /// </summary>
    public static IReadOnlyList<string> SubscribedTopics { get; } = [WorkflowStepRelayGrain.Topic];

    /// <summary>
    /// The stream provider on Redis Streams, the outbox grain storage (<see cref="JobGrain.Storage"/>) that writes a grain's
    /// state and its events in one step, and the sweeper grain, started with the silo.
    /// </summary>
    public static ISiloBuilder AddClusterGrains(this ISiloBuilder silo, Action<RedisStreamOptions>? streams = null)
    {
        silo.AddRedisStreams(StreamProvider, options =>
        {
            options.ReadTopics = [.. SubscribedTopics];
            streams?.Invoke(options);
        });
        silo.AddOutboxGrainStorage(JobGrain.Storage, options => options.StreamProvider = StreamProvider);
        silo.AddClusterSweeper();
        return silo;
    }
}
