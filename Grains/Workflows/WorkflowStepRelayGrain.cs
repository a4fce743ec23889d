using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Jobs;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Cluster.Grains.Workflows;

/// <summary>The relay's grain interface: it has no methods, the <c>jobs</c> topic activates it.</summary>
public interface IWorkflowStepRelayGrain : IGrainWithStringKey;

/// <summary>
/// Reads the <c>jobs</c> topic and has each workflow step's job that ended tell its workflow again. A job tells its
/// workflow right after the write that ends it; this covers the silo that died between the two. Telling twice
/// changes nothing, so the topic's at-least-once delivery is enough.
/// </summary>
[ImplicitStreamSubscription(JobGrain.Topic)]
public sealed class WorkflowStepRelayGrain : Grain, IWorkflowStepRelayGrain, IStreamSubscriptionObserver
{
    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<TopicEvent>().ResumeAsync(OnNextAsync);

    private Task OnNextAsync(TopicEvent item, StreamSequenceToken? token)
    {
        if (item.Type is not ("job_completed" or "job_dead" or "job_cancelled")
            || !item.Fields.ContainsKey("workflow_id") || !item.Fields.TryGetValue("job_id", out var jobId))
            return Task.CompletedTask;
        return GrainFactory.GetGrain<IJobControlGrain>(jobId).NotifyWorkflowAsync();
    }
}
