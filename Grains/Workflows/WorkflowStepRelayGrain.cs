using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Jobs;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Cluster.Grains.Workflows;

/// <summary>The relay's grain interface: it has no methods, the <c>steps</c> topic activates it.</summary>
public interface IWorkflowStepRelayGrain : IGrainWithStringKey;

/// <summary>
/// Reads the <c>steps</c> topic, on which a workflow step's job publishes its end in the write that ends it, and has
/// the job tell its workflow again. A job tells its workflow right after that write; this covers the silo that died
/// between the two. Telling twice changes nothing, so the topic's at-least-once delivery is enough. A topic of its
/// own, rather than the <c>jobs</c> topic, so that the jobs of no workflow cost the relay nothing.
/// </summary>
[ImplicitStreamSubscription(Topic)]
public sealed class WorkflowStepRelayGrain : Grain, IWorkflowStepRelayGrain, IStreamSubscriptionObserver
{
    /// <summary>The topic of the workflow steps' job ends.</summary>
    public const string Topic = "steps";

    /// <summary>The job events that end a workflow step: what a step's job publishes on <see cref="Topic"/>.</summary>
    public static bool IsStepEnd(string type) => type is "job_completed" or "job_dead" or "job_cancelled";

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<TopicEvent>().ResumeAsync(OnNextAsync);

    private Task OnNextAsync(TopicEvent item, StreamSequenceToken? token)
    {
        if (!IsStepEnd(item.Type) || !item.Fields.ContainsKey("workflow_id") || !item.Fields.TryGetValue("job_id", out var jobId))
            return Task.CompletedTask;
        return GrainFactory.GetGrain<IJobControlGrain>(jobId).NotifyWorkflowAsync();
    }
}
