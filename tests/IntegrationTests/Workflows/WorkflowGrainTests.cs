using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Streams;
using Cluster.IntegrationTests.Jobs;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Workflows;

/// <summary>
/// The Orleans workflow grain with its steps' jobs, driven by handing jobs to a worker directly
/// (<see cref="IJobControlGrain.AssignAsync"/>), which does not need the queue: what only this engine has
/// (step notices, their idempotence, the relay of the steps topic, requests that cross between a workflow and its jobs).
/// </summary>
public sealed class WorkflowGrainTests : GrainTestBase
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private static JsonObject Step(JsonNode? dependsOn = null, int maxRetries = 3)
    {
        var step = new JsonObject { ["type"] = "simulation", ["duration_ms"] = 1, ["max_retries"] = maxRetries };
        if (dependsOn is not null) step["depends_on"] = dependsOn;
        return step;
    }

    private static WorkflowDefinition Definition(string? policy, params JsonObject[] steps)
    {
        var body = new JsonObject { ["name"] = "test workflow", ["steps"] = new JsonArray(steps) };
        if (policy is not null) body["failure_policy"] = policy;
        return WorkflowDefinitionReader.Read(JsonNode.Parse(body.ToJsonString()), JobTypeCatalog.Default, WorkflowLimits.DefaultMaxSteps, out var problem)
            ?? throw new AssertionException(problem!);
    }

    private Task<CreatedWorkflow> CreateAsync(string? policy, params JsonObject[] steps) => Grains.Workflows.CreateAsync(Definition(policy, steps));

    private IJobControlGrain Control(string jobId) => Cluster.Client.GetGrain<IJobControlGrain>(jobId);

    private async Task<string[]> StatusesAsync(CreatedWorkflow wf) =>
        await Task.WhenAll(wf.JobIds.Select(async id => (await Grains.Job(id).GetAsync())!.Status));

    private async Task<JobAssignment> AssignAsync(string jobId) =>
        await Control(jobId).AssignAsync("w1", "m1", Guid.NewGuid().ToString("N"), Lease) ?? throw new AssertionException($"job {jobId} was not pending");

    private async Task RunAsync(string jobId, JsonNode? result = null)
    {
        var assignment = await AssignAsync(jobId);
        Assert.That(await Grains.Job(jobId).CompleteAsync(assignment.LeaseToken, result ?? new JsonObject { ["done"] = assignment.Job.StepIndex }), Is.True);
    }

    private async Task KillAsync(string jobId)
    {
        var assignment = await AssignAsync(jobId);
        Assert.That(await Grains.Job(jobId).FailAsync(assignment.LeaseToken, new JobError("BOOM", "it broke"), retryable: false), Is.EqualTo(JobFailureOutcome.Dead));
    }

    private async Task<WorkflowView> ViewAsync(CreatedWorkflow wf) => (await Grains.Workflow(wf.WorkflowId).GetAsync())!;

    /// <summary>The events of a topic, oldest first, as they are stored (flat: a type, then the fields).</summary>
    private Task<List<StreamEvent>> EventsAsync(string topic) => Redis.ReadStreamAsync("events:" + topic);

    [Test]
    public async Task The_seed_internal_job_completed_route_completes_an_assigned_step_and_counts_it_exactly_once()
    {
        var wf = await CreateAsync(null, Step(), Step(0));
        var workflow = Grains.Workflow(wf.WorkflowId);
        var first = new JsonObject { ["image_url"] = "https://cdn.example.com/mountain-512.jpg" };

        var early = Assert.ThrowsAsync<ClusterException>(() => workflow.JobCompletedAsync(wf.JobIds[0], first));
        Assert.That(early!.Code, Is.EqualTo(ErrorCodes.InvalidState), "a pending job has not completed");
        await AssignAsync(wf.JobIds[0]);
        var counted = await workflow.JobCompletedAsync(wf.JobIds[0], first);
        var repeated = await workflow.JobCompletedAsync(wf.JobIds[0], first);

        Assert.That((counted, repeated), Is.EqualTo((true, false)));
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "pending" }));
        Assert.That((await Redis.SortedSetRangeByRankAsync("jobs:status:pending")).Select(i => i.ToString()), Is.EqualTo(new[] { wf.JobIds[1] }));
        Assert.That((await Grains.Job(wf.JobIds[1]).GetAsync())!.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Does.EndWith("512.jpg"));

        await AssignAsync(wf.JobIds[1]);
        Assert.That(await workflow.JobCompletedAsync(wf.JobIds[1], new JsonObject { ["upscale_factor"] = 2 }), Is.True);
        Assert.That(await workflow.JobCompletedAsync(wf.JobIds[1], null), Is.False);

        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(2));
        var events = await EventsAsync("workflows");
        Assert.That(events.Count(e => e.Type == "workflow_step_promoted"), Is.EqualTo(1));
        Assert.That(events.Count(e => e.Type == "workflow_completed"), Is.EqualTo(1));
        var jobEvents = await EventsAsync("jobs");
        Assert.That(wf.JobIds.Select(id => jobEvents.Count(e => e.Type == "job_completed" && e["job_id"] == id)), Is.All.EqualTo(1));
        Assert.That(await Redis.SortedSetLengthAsync("jobs:status:completed"), Is.EqualTo(2), "the status index agrees");
    }

    [Test]
    public async Task A_repeated_or_stale_step_notice_changes_nothing()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.FailFast, Step(maxRetries: 0), Step(0));
        var control = Cluster.Client.GetGrain<IWorkflowControlGrain>(wf.WorkflowId);
        await RunAsync(wf.JobIds[0], new JsonObject { ["n"] = 1 });
        var before = await EventsAsync("workflows");

        await Control(wf.JobIds[0]).NotifyWorkflowAsync();
        await control.StepEndedAsync(new StepNotice { JobId = wf.JobIds[0], StepIndex = 0, Status = "completed", Result = "{\"n\":2}" });
        await control.StepEndedAsync(new StepNotice { JobId = wf.JobIds[1], StepIndex = 1, Generation = 7, Status = "dead", Detail = "{}" });
        await control.StepEndedAsync(new StepNotice { JobId = "someone-else", StepIndex = 1, Status = "dead", Detail = "{}" });

        Assert.That(await EventsAsync("workflows"), Has.Count.EqualTo(before.Count));
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "pending" }));
        Assert.That((await Grains.Job(wf.JobIds[1]).GetAsync())!.Payload!["inputs"]!["0"]!["n"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That((await ViewAsync(wf)).Workflow.CompletedSteps, Is.EqualTo(1));
    }

    [Test]
    public async Task A_workflow_that_missed_its_step_ending_hears_of_it_from_the_steps_topic()
    {
        var wf = await CreateAsync(null, Step(), Step(0));
        await AssignAsync(wf.JobIds[0]);

        // The job completes without telling its workflow, as when its silo dies right after the write.
        var facts = await Control(wf.JobIds[0]).CompleteForWorkflowAsync("""{"image_url":"a.png"}""");
        Assert.That(facts!.Status, Is.EqualTo("completed"));

        await Eventually.UntilAsync(async () => (await Grains.Job(wf.JobIds[1]).GetAsync())!.Status == "pending",
            "the relay of the steps topic tells the workflow, which promotes the next step");
        Assert.That((await Grains.Job(wf.JobIds[1]).GetAsync())!.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Is.EqualTo("a.png"));
        Assert.That((await ViewAsync(wf)).Workflow.CompletedSteps, Is.EqualTo(1));
        Assert.That((await EventsAsync("workflows")).Count(e => e.Type == "workflow_step_completed"), Is.EqualTo(1));
    }

    [Test]
    public async Task Steps_that_end_at_once_under_fail_fast_settle_the_workflow_without_a_deadlock()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.FailFast, Enumerable.Range(0, 8).Select(_ => Step(maxRetries: 0)).ToArray());
        var assignments = await Task.WhenAll(wf.JobIds.Select(AssignAsync));

        // Each job tells the workflow while the workflow cancels the others: no job may wait on the workflow
        // while the workflow waits on it. A job the workflow cancelled first refuses its worker's report.
        var refused = await Task.WhenAll(assignments.Select(async (a, i) =>
        {
            try
            {
                if (i % 2 == 0) await Grains.Job(a.Job.Id).FailAsync(a.LeaseToken, new JobError("BOOM", "it broke"), retryable: false);
                else await Grains.Job(a.Job.Id).CompleteAsync(a.LeaseToken, new JsonObject());
                return null;
            }
            catch (ClusterException e) when (e.Code is ErrorCodes.StaleLease or ErrorCodes.InvalidState)
            {
                return a.Job.Id;
            }
        }));

        var statuses = await StatusesAsync(wf);
        Assert.That(statuses, Is.All.AnyOf("dead", "completed", "cancelled"));
        Assert.That(statuses, Does.Contain("dead"));
        Assert.That(statuses.Where((_, i) => refused.Contains(wf.JobIds[i])), Is.All.EqualTo("cancelled"),
            "a report was refused only because the workflow had cancelled the job");
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.FailedSteps, Is.EqualTo(statuses.Count(s => s == "dead")), "the workflow counted every step as its job ended");
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(statuses.Count(s => s == "completed")));
    }
}
