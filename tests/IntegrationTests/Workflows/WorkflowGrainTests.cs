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
/// (step notices, their idempotence, the answers of the steps' jobs), and WorkflowTests' cases without claims.
/// </summary>
[TestFixture(Engine.Orleans)]
public sealed class WorkflowGrainTests(Engine engine) : GrainTestBase(engine)
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

    /// <summary>The events of a topic, oldest first, as they are stored (flat, as cluster.lua's emit stores them).</summary>
    private Task<List<StreamEvent>> EventsAsync(string topic) => Redis.ReadStreamAsync("events:" + topic);

    [Test]
    public async Task A_diamond_runs_in_dependency_order_and_the_last_step_gets_both_results_as_inputs()
    {
        var wf = await CreateAsync(null, Step(), Step(0), Step(new JsonArray(0)), Step(new JsonArray(1, 2)));
        var (a, b, c, d) = (wf.JobIds[0], wf.JobIds[1], wf.JobIds[2], wf.JobIds[3]);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting", "waiting", "waiting" }));

        await RunAsync(a, new JsonObject { ["image_url"] = "a.png" });
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "pending", "pending", "waiting" }));
        Assert.That((await Grains.Job(b).GetAsync())!.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Is.EqualTo("a.png"));

        await RunAsync(b, new JsonObject { ["tags"] = new JsonArray(), ["n"] = 1 });
        Assert.That((await Grains.Job(d).GetAsync())!.Status, Is.EqualTo("waiting"), "D still waits for C");
        await RunAsync(c, new JsonArray(1, 2));

        var payload = (await Grains.Job(d).GetAsync())!.Payload!;
        Assert.That(payload["inputs"]!["1"]!["tags"], Is.InstanceOf<JsonArray>(), "an empty array stays an array");
        Assert.That(payload["inputs"]!["2"]!.ToJsonString(), Is.EqualTo("[1,2]"));
        Assert.That(payload["inputs"]!.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "1", "2" }));
        Assert.That(payload["type"]!.ToString(), Is.EqualTo("simulation"), "the step's own fields are kept");

        await RunAsync(d);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(4));
        Assert.That(view.Steps.Select(s => s.DependsOn.ToArray()), Is.EqualTo(new[] { Array.Empty<int>(), [0], [0], [1, 2] }));
        Assert.That(view.Steps.Select(s => s.Status), Is.All.EqualTo("completed"));
        var events = await EventsAsync("workflows");
        Assert.That(events.Count(e => e.Type == "workflow_completed"), Is.EqualTo(1));
        Assert.That(events.Where(e => e.Type == "workflow_step_promoted").Select(e => e["step_index"]), Is.EquivalentTo(new[] { "1", "2", "3" }));
        Assert.That(events[^1].Type, Is.EqualTo("workflow_completed"));
        Assert.That(events[^1]["completed_steps"], Is.EqualTo("4"));
        var pending = (await EventsAsync("jobs")).Where(e => e.Type == "job_pending" && e["job_id"] == d).ToList();
        Assert.That(pending.Select(e => e["reason"]), Is.EqualTo(new[] { "dependencies_completed" }));
    }

    [Test]
    public async Task Seed_001s_img2img_step_leaves_out_the_image_url_its_dependency_brings_as_inputs()
    {
        var body = JsonNode.Parse("""
            {"name":"Sequential Processing","steps":[
              {"type":"text-to-image","prompt":"Base image"},
              {"type":"img2img","prompt":"Enhanced image","depends_on":[0]},
              {"type":"upscale","scale_factor":2,"depends_on":[1]}]}
            """);
        var definition = WorkflowDefinitionReader.Read(body, JobTypeCatalog.Default, WorkflowLimits.DefaultMaxSteps, out var problem);
        Assert.That(problem, Is.Null);

        var wf = await Grains.Workflows.CreateAsync(definition!);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting", "waiting" }));
        await RunAsync(wf.JobIds[0], new JsonObject { ["image_url"] = "base.png" });

        var img2img = (await Grains.Job(wf.JobIds[1]).GetAsync())!;
        Assert.That(img2img.Status, Is.EqualTo("pending"));
        Assert.That(img2img.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Is.EqualTo("base.png"));
        Assert.That(img2img.Payload["prompt"]!.ToString(), Is.EqualTo("Enhanced image"));
    }

    [Test]
    public async Task Under_fail_fast_a_dead_step_cancels_every_unfinished_step_and_fails_the_workflow()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.FailFast, Step(maxRetries: 0), Step(), Step(0));

        await KillAsync(wf.JobIds[0]);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "cancelled", "cancelled" }));
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.FailedSteps, Is.EqualTo(1));
        Assert.That((await Grains.Job(wf.JobIds[1]).GetAsync())!.Status, Is.EqualTo("cancelled"));
        var events = await EventsAsync("workflows");
        Assert.That(events.Select(e => e.Type), Is.EqualTo(new[] { "workflow_created", "workflow_step_failed", "workflow_failed" }));
        Assert.That(events[1]["error"], Does.Contain("BOOM"));
    }

    [Test]
    public async Task Under_continue_an_independent_branch_finishes_and_only_the_dependents_are_cancelled()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(), Step(0), Step(2));

        await KillAsync(wf.JobIds[0]);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "pending", "cancelled", "cancelled" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Running), "the independent branch still runs");
        Assert.That((await EventsAsync("jobs")).Single(e => e.Type == "job_cancelled" && e["job_id"] == wf.JobIds[3])["reason"], Is.EqualTo("dependency failed"));

        await RunAsync(wf.JobIds[1]);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "completed", "cancelled", "cancelled" }));
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(1));
    }

    [Test]
    public async Task Retrying_a_dead_step_brings_back_its_cancelled_dependents_and_the_workflow_completes()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.FailFast, Step(maxRetries: 0), Step(0), Step(1), Step());
        await KillAsync(wf.JobIds[0]);
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));

        await Grains.Workflow(wf.WorkflowId).RetryStepAsync(0);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting", "waiting", "pending" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Running));
        foreach (var id in wf.JobIds) await RunAsync(id);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.FailedSteps, Is.Zero);
        Assert.That((await Grains.Job(wf.JobIds[0]).GetAsync())!.RetryCount, Is.Zero, "the retried step starts afresh");
        var types = (await EventsAsync("workflows")).Select(e => e.Type).ToList();
        Assert.That(types, Does.Contain("workflow_step_retried").And.Contain("workflow_resumed"));
        Assert.That(types.Count(t => t == "workflow_completed"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_step_whose_dependency_is_dead_cannot_be_retried_before_it()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(0));
        await KillAsync(wf.JobIds[0]);

        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflow(wf.WorkflowId).RetryStepAsync(1));

        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.InvalidState));
        Assert.That(refused.Message, Does.Contain("retry that step first"));
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "cancelled" }));
    }

    [Test]
    public async Task Retrying_a_step_through_the_job_retry_also_resumes_its_dependents()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(0));
        await KillAsync(wf.JobIds[0]);

        await Grains.Job(wf.JobIds[0]).RetryAsync();

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting" }));
        await RunAsync(wf.JobIds[0]);
        await RunAsync(wf.JobIds[1]);
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
    }

    [Test]
    public async Task Cancelling_a_step_job_applies_the_failure_policy_and_the_workflow_ends_cancelled_when_nothing_died()
    {
        var wf = await CreateAsync(WorkflowFailurePolicy.Continue, Step(), Step(0), Step());

        await Grains.Job(wf.JobIds[0]).CancelAsync("not needed");

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "cancelled", "cancelled", "pending" }));
        await RunAsync(wf.JobIds[2]);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Cancelled));
        var cancelled = (await EventsAsync("workflows")).Single(e => e.Type == "workflow_step_cancelled");
        Assert.That((cancelled["step_index"], cancelled["reason"]), Is.EqualTo(("0", "not needed")));
    }

    [Test]
    public async Task Cancelling_a_workflow_cancels_its_unfinished_steps_and_keeps_the_completed_ones()
    {
        var wf = await CreateAsync(null, Step(), Step(0), Step());
        await RunAsync(wf.JobIds[0]);
        await AssignAsync(wf.JobIds[2]);

        await Grains.Workflow(wf.WorkflowId).CancelAsync();

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "cancelled", "cancelled" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Cancelled));
        var again = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflow(wf.WorkflowId).CancelAsync());
        Assert.That(again!.Code, Is.EqualTo(ErrorCodes.InvalidState));
        Assert.That((await EventsAsync("workflows")).Count(e => e.Type == "workflow_cancelled"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_workflow_the_grain_refuses_writes_nothing_at_all()
    {
        var definition = Definition(null, Step(), Step(0));
        var broken = definition with
        {
            Steps = [definition.Steps[0], definition.Steps[1] with { Job = definition.Steps[1].Job with { Priority = 5000 } }],
        };

        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflows.CreateAsync(broken));

        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.ValidationError));
        Assert.That((await Grains.Workflows.ListAsync(null, 10)).Items, Is.Empty);
        Assert.That((await Redis.ExecuteAsync("ZCARD", "jobs:all")).Integer, Is.Zero, "no step's job was written");
        Assert.That((await Redis.ExecuteAsync("XLEN", "events:workflows")).Integer, Is.Zero, "no workflow event (the stream's reader may have made the key)");
    }

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
        Assert.That((await Redis.ExecuteAsync("ZRANGE", "jobs:status:pending", 0, -1)).Items.Select(i => i.ToString()), Is.EqualTo(new[] { wf.JobIds[1] }));
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
        Assert.That((await Redis.ExecuteAsync("ZCARD", "jobs:status:completed")).Integer, Is.EqualTo(2), "the status index agrees");
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
    public async Task A_workflow_that_missed_its_step_ending_hears_of_it_from_the_jobs_topic()
    {
        var wf = await CreateAsync(null, Step(), Step(0));
        await AssignAsync(wf.JobIds[0]);

        // The job completes without telling its workflow, as when its silo dies right after the write.
        var facts = await Control(wf.JobIds[0]).CompleteForWorkflowAsync("""{"image_url":"a.png"}""");
        Assert.That(facts!.Status, Is.EqualTo("completed"));

        await Eventually.UntilAsync(async () => (await Grains.Job(wf.JobIds[1]).GetAsync())!.Status == "pending",
            "the relay of the jobs topic tells the workflow, which promotes the next step");
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
        // while the workflow waits on it.
        await Task.WhenAll(assignments.Select((a, i) => i % 2 == 0
            ? (Task)Grains.Job(a.Job.Id).FailAsync(a.LeaseToken, new JobError("BOOM", "it broke"), retryable: false)
            : Grains.Job(a.Job.Id).CompleteAsync(a.LeaseToken, new JsonObject())));

        var statuses = await StatusesAsync(wf);
        Assert.That(statuses, Is.All.AnyOf("dead", "completed", "cancelled"));
        Assert.That(statuses, Does.Contain("dead"));
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.FailedSteps, Is.EqualTo(statuses.Count(s => s == "dead")), "the workflow counted every step as its job ended");
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(statuses.Count(s => s == "completed")));
    }

    [Test]
    public async Task An_unknown_workflow_reads_as_null_and_its_routes_say_workflow_not_found()
    {
        Assert.That(await Grains.Workflow("nope").GetAsync(), Is.Null);
        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflow("nope").CancelAsync());
        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.WorkflowNotFound));
    }

    [Test]
    public async Task Workflows_are_listed_newest_first_page_by_page()
    {
        var created = new List<string>();
        for (var i = 0; i < 5; i++) created.Add((await CreateAsync(null, Step())).WorkflowId);

        var first = await Grains.Workflows.ListAsync(null, 3);
        var second = await Grains.Workflows.ListAsync(first.NextCursor, 3);

        Assert.That(first.Items.Select(w => w.Id), Is.EqualTo(created.AsEnumerable().Reverse().Take(3)));
        Assert.That(second.Items.Select(w => w.Id), Is.EqualTo(created.Take(2).Reverse()));
        Assert.That(second.NextCursor, Is.Null);
        Assert.That(first.Items[0].Status, Is.EqualTo(WorkflowStatus.Running));
    }
}
