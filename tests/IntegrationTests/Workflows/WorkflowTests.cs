using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Streams;
using Cluster.IntegrationTests.Jobs;
using Cluster.Testing;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Workflows;

public sealed class WorkflowTests : GrainTestBase
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>A step of type simulation; <paramref name="dependsOn"/> as the API takes it (null, an index or an array).</summary>
    private static JsonObject Step(JsonNode? dependsOn = null, int maxRetries = 3)
    {
        var step = new JsonObject { ["type"] = "simulation", ["duration_ms"] = 1, ["max_retries"] = maxRetries };
        if (dependsOn is not null) step["depends_on"] = dependsOn;
        return step;
    }

    private static JsonArray Indexes(params int[] indexes) => new([.. indexes.Select(i => JsonValue.Create(i))]);

    private static WorkflowDefinition Definition(string? policy, params JsonObject[] steps)
    {
        var body = new JsonObject { ["name"] = "test workflow", ["steps"] = new JsonArray(steps) };
        if (policy is not null) body["failure_policy"] = policy;
        // Through JSON text, as a request body arrives: numbers built in code are not read as JSON numbers are.
        return WorkflowDefinitionReader.Read(JsonNode.Parse(body.ToJsonString()), JobTypeCatalog.Default, WorkflowLimits.DefaultMaxSteps, out var problem)
            ?? throw new AssertionException(problem!);
    }

    private Task<CreatedWorkflow> CreateAsync(params JsonObject[] steps) => Grains.Workflows.CreateAsync(Definition(null, steps));

    private async Task<string> StatusOf(string jobId) => (await Grains.Job(jobId).GetAsync())!.Status;

    private async Task<string[]> StatusesAsync(CreatedWorkflow wf) => await Task.WhenAll(wf.JobIds.Select(StatusOf));

    /// <summary>Claims the next job, checks it is the one expected, and completes it with <paramref name="result"/>.</summary>
    private async Task RunAsync(string expectedJobId, JsonNode? result = null)
    {
        var assignment = await Grains.Jobs.ClaimAsync("w1", "m1", new WorkerCapabilities(), Lease) ?? throw new AssertionException("nothing was claimable");
        Assert.That(assignment.Job.Id, Is.EqualTo(expectedJobId), "the claimed job");
        Assert.That(await Grains.Job(assignment.Job.Id).CompleteAsync(assignment.LeaseToken, result ?? new JsonObject { ["done"] = assignment.Job.StepIndex }), Is.True);
    }

    private async Task KillAsync(string expectedJobId)
    {
        var assignment = await Grains.Jobs.ClaimAsync("w1", "m1", new WorkerCapabilities(), Lease) ?? throw new AssertionException("nothing was claimable");
        Assert.That(assignment.Job.Id, Is.EqualTo(expectedJobId), "the claimed job");
        var outcome = await Grains.Job(assignment.Job.Id).FailAsync(assignment.LeaseToken, new JobError("BOOM", "it broke"), retryable: false);
        Assert.That(outcome, Is.EqualTo(JobFailureOutcome.Dead));
    }

    private Task<List<StreamEvent>> EventsAsync(string stream) => Redis.ReadStreamAsync(stream);

    private async Task<WorkflowView> ViewAsync(CreatedWorkflow wf) => (await Grains.Workflow(wf.WorkflowId).GetAsync())!;

    [Test]
    public async Task A_diamond_runs_in_dependency_order_and_the_last_step_gets_both_results_as_inputs()
    {
        var wf = await CreateAsync(Step(), Step(0), Step(Indexes(0)), Step(Indexes(1, 2)));
        var (a, b, c, d) = (wf.JobIds[0], wf.JobIds[1], wf.JobIds[2], wf.JobIds[3]);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting", "waiting", "waiting" }));

        await RunAsync(a, new JsonObject { ["image_url"] = "a.png" });
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "pending", "pending", "waiting" }));
        Assert.That((await Grains.Job(b).GetAsync())!.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Is.EqualTo("a.png"));

        await RunAsync(b, new JsonObject { ["tags"] = new JsonArray(), ["n"] = 1 });
        Assert.That(await StatusOf(d), Is.EqualTo("waiting"), "D still waits for C");
        await RunAsync(c, new JsonArray(1, 2));

        var payload = (await Grains.Job(d).GetAsync())!.Payload!;
        Assert.That(payload["inputs"]!["1"]!["tags"], Is.InstanceOf<JsonArray>(), "an empty array stays an array");
        Assert.That(payload["inputs"]!["1"]!["n"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(payload["inputs"]!["2"]!.ToJsonString(), Is.EqualTo("[1,2]"));
        Assert.That(payload["inputs"]!.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "1", "2" }));
        Assert.That(payload["type"]!.ToString(), Is.EqualTo("simulation"), "the step's own fields are kept");

        await RunAsync(d);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(4));
        Assert.That(view.Workflow.ProgressPercentage, Is.EqualTo(100));
        Assert.That(view.Steps.Select(s => s.DependsOn.ToArray()), Is.EqualTo(new[] { Array.Empty<int>(), [0], [0], [1, 2] }));
        var events = await EventsAsync(EventStreams.Workflows);
        Assert.That(events.Count(e => e.Type == "workflow_completed"), Is.EqualTo(1));
        Assert.That(events.Where(e => e.Type == "workflow_step_promoted").Select(e => e["step_index"]), Is.EquivalentTo(new[] { "1", "2", "3" }));
        Assert.That(events.Last().Type, Is.EqualTo("workflow_completed"));
        Assert.That(events.Last()["completed_steps"], Is.EqualTo("4"));
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
    public async Task A_step_keeps_every_option_that_a_submitted_job_keeps()
    {
        const string body = """
            {"type":"simulation","duration_ms":1,"priority":7,"max_retries":1,"timeout_ms":5000,
             "requirements":{"gpu_memory":8,"capabilities":["fp16"],"pool_preference":"heavy"},
             "webhook_url":"https://example.test/hook","webhook_events":["failed","progress"]}
            """;
        var submission = JobSubmissionReader.Read(JsonNode.Parse(body), JobTypeCatalog.Default, out var problem) ?? throw new AssertionException(problem!);
        var job = await Grains.Jobs.SubmitAsync(submission);
        var wf = await CreateAsync(JsonNode.Parse(body)!.AsObject());

        // The step's job gets the submission as read, as a submitted job gets it; what the API shows of both agrees.
        static object Options(JobState j) =>
            (j.Type, j.Priority, j.Payload!.ToJsonString(), JsonSerializer.Serialize(j.Requirements, ClusterJson.Options), j.MaxRetries, j.TimeoutMs, j.WebhookUrl);
        var (asJob2, asStep2) = ((await Grains.Job(job.JobId).GetAsync())!, (await Grains.Job(wf.JobIds[0]).GetAsync())!);
        Assert.That(Options(asStep2), Is.EqualTo(Options(asJob2)));
        Assert.That((asStep2.Priority, asStep2.MaxRetries, asStep2.TimeoutMs, asStep2.WebhookUrl), Is.EqualTo((7, 1, 5000L, "https://example.test/hook")));
    }

    [Test]
    public async Task A_fifty_step_chain_runs_one_step_after_another_to_completion()
    {
        var steps = Enumerable.Range(0, 50).Select(i => i == 0 ? Step() : Step(i - 1)).ToArray();
        var wf = await CreateAsync(steps);

        for (var i = 0; i < 50; i++)
        {
            Assert.That(await Grains.Jobs.PendingCountAsync(), Is.EqualTo(1), $"only step {i} is claimable");
            await RunAsync(wf.JobIds[i], new JsonObject { ["step"] = i });
        }

        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(50));
        Assert.That((await Grains.Job(wf.JobIds[49]).GetAsync())!.Payload!["inputs"]!["48"]!["step"]!.GetValue<int>(), Is.EqualTo(48));
    }

    [Test]
    public async Task Under_fail_fast_a_dead_step_cancels_every_unfinished_step_and_fails_the_workflow()
    {
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.FailFast, Step(maxRetries: 0), Step(), Step(0)));

        await KillAsync(wf.JobIds[0]);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "cancelled", "cancelled" }));
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.FailedSteps, Is.EqualTo(1));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.Zero);
        var events = await EventsAsync(EventStreams.Workflows);
        Assert.That(events.Select(e => e.Type), Is.EqualTo(new[] { "workflow_created", "workflow_step_failed", "workflow_failed" }));
        Assert.That(events[1]["error"], Does.Contain("BOOM"));
    }

    [Test]
    public async Task Under_continue_an_independent_branch_finishes_and_only_the_dependents_are_cancelled()
    {
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(), Step(0), Step(2)));

        await KillAsync(wf.JobIds[0]);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "pending", "cancelled", "cancelled" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Running), "the independent branch still runs");
        var cancelled = (await EventsAsync(EventStreams.Jobs)).Single(e => e.Type == "job_cancelled" && e["job_id"] == wf.JobIds[3]);
        Assert.That(cancelled["reason"], Is.EqualTo("dependency failed"));

        await RunAsync(wf.JobIds[1]);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "completed", "cancelled", "cancelled" }));
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(1));
    }

    [Test]
    public async Task Retrying_a_dead_step_brings_back_its_cancelled_dependents_and_the_workflow_completes()
    {
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.FailFast, Step(maxRetries: 0), Step(0), Step(1), Step()));
        await KillAsync(wf.JobIds[0]);
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));

        await Grains.Workflow(wf.WorkflowId).RetryStepAsync(0);

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "pending", "waiting", "waiting", "pending" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Running));
        await RunAsync(wf.JobIds[0]);
        await RunAsync(wf.JobIds[1]);
        await RunAsync(wf.JobIds[2]);
        await RunAsync(wf.JobIds[3]);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.FailedSteps, Is.Zero);
        var types = (await EventsAsync(EventStreams.Workflows)).Select(e => e.Type).ToList();
        Assert.That(types, Does.Contain("workflow_step_retried").And.Contain("workflow_resumed"));
        Assert.That(types.Count(t => t == "workflow_completed"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_step_whose_dependency_is_dead_cannot_be_retried_before_it()
    {
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(0)));
        await KillAsync(wf.JobIds[0]);

        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflow(wf.WorkflowId).RetryStepAsync(1));

        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.InvalidState));
        Assert.That(refused.Message, Does.Contain("retry that step first"));
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "dead", "cancelled" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Failed));
    }

    [Test]
    public async Task Retrying_a_step_through_the_job_retry_also_resumes_its_dependents()
    {
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.Continue, Step(maxRetries: 0), Step(0)));
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
        var wf = await Grains.Workflows.CreateAsync(Definition(WorkflowFailurePolicy.Continue, Step(), Step(0), Step()));

        await Grains.Job(wf.JobIds[0]).CancelAsync("not needed");

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "cancelled", "cancelled", "pending" }));
        await RunAsync(wf.JobIds[2]);
        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Cancelled));
        var cancelled = (await EventsAsync(EventStreams.Workflows)).Single(e => e.Type == "workflow_step_cancelled");
        Assert.That((cancelled["step_index"], cancelled["reason"]), Is.EqualTo(("0", "not needed")));
    }

    [Test]
    public async Task Cancelling_a_workflow_cancels_its_unfinished_steps_and_keeps_the_completed_ones()
    {
        var wf = await CreateAsync(Step(), Step(0), Step());
        await RunAsync(wf.JobIds[0]);

        await Grains.Workflow(wf.WorkflowId).CancelAsync();

        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "cancelled", "cancelled" }));
        Assert.That((await ViewAsync(wf)).Workflow.Status, Is.EqualTo(WorkflowStatus.Cancelled));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.Zero);
        var again = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflow(wf.WorkflowId).CancelAsync());
        Assert.That(again!.Code, Is.EqualTo(ErrorCodes.InvalidState));
    }

    [TestCase("cycle", """[{"type":"simulation","depends_on":1},{"type":"simulation","depends_on":[0]}]""", "steps[0] is part of a dependency cycle")]
    [TestCase("longer cycle", """[{"type":"simulation"},{"type":"simulation","depends_on":[0,3]},{"type":"simulation","depends_on":1},{"type":"simulation","depends_on":2},{"type":"simulation","depends_on":3}]""", "steps[1] is part of a dependency cycle")]
    [TestCase("self", """[{"type":"simulation"},{"type":"simulation","depends_on":1}]""", "steps[1]: a step cannot depend on itself")]
    [TestCase("out of range", """[{"type":"simulation","depends_on":[5]}]""", "steps[0]: depends_on 5 is not a step")]
    [TestCase("negative", """[{"type":"simulation"},{"type":"simulation","depends_on":-1}]""", "steps[1]: depends_on -1 is not a step")]
    [TestCase("not an index", """[{"type":"simulation"},{"type":"simulation","depends_on":"0"}]""", "steps[1]: 'depends_on' must be")]
    [TestCase("bad job", """[{"type":"simulation"},{"type":"text-to-image","prompt":42,"depends_on":0}]""", "steps[1]: Validation failed for text-to-image: 'prompt' must be string")]
    [TestCase("bad first job", """[{"type":"text-to-image"},{"type":"simulation","depends_on":0}]""", "steps[0]: Validation failed for text-to-image: 'prompt' is required")]
    [TestCase("no steps", """[]""", "'steps' must be an array of 1 to 100 steps")]
    public void An_invalid_workflow_is_refused_naming_the_step(string _, string steps, string message)
    {
        var body = new JsonObject { ["name"] = "bad", ["steps"] = JsonNode.Parse(steps) };

        var definition = WorkflowDefinitionReader.Read(body, JobTypeCatalog.Default, WorkflowLimits.DefaultMaxSteps, out var problem);

        Assert.That(definition, Is.Null);
        Assert.That(problem, Does.StartWith("Validation failed: ").And.Contain(message));
    }

    [Test]
    public async Task A_workflow_the_function_refuses_writes_nothing_at_all()
    {
        var definition = Definition(null, Step(), Step(0));
        var broken = definition with
        {
            Steps = [definition.Steps[0], definition.Steps[1] with { Job = definition.Steps[1].Job with { Priority = 5000 } }],
        };

        var refused = Assert.ThrowsAsync<ClusterException>(() => Grains.Workflows.CreateAsync(broken));

        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.ValidationError));
        // The Orleans cluster keeps its membership in the same Redis: nothing of the workflow's is there.
        Assert.That((await Grains.Workflows.ListAsync(null, 10)).Items, Is.Empty, "no workflow was written");
        Assert.That(await Task.WhenAll(JobStatus.All.Select(s => Redis.SortedSetLengthAsync("jobs:status:" + s))), Is.All.Zero, "no step's job was written");
        Assert.That(await Redis.StreamLengthAsync(EventStreams.Workflows), Is.Zero, "no workflow event");
        Assert.That(await Redis.StreamLengthAsync(EventStreams.Jobs), Is.Zero, "no job event");
    }

    [Test]
    public async Task The_seed_internal_job_completed_flow_promotes_exactly_once_even_when_called_twice()
    {
        var wf = await CreateAsync(Step(), Step(0));
        var workflow = Grains.Workflow(wf.WorkflowId);
        var first = new JsonObject { ["image_url"] = "https://cdn.example.com/mountain-512.jpg" };

        await MarkCompletedBySeedCodeAsync(wf.JobIds[0], first);
        var counted = await workflow.JobCompletedAsync(wf.JobIds[0], first);
        var repeated = await workflow.JobCompletedAsync(wf.JobIds[0], first);

        Assert.That(counted, Is.True);
        Assert.That(repeated, Is.False);
        Assert.That(await StatusesAsync(wf), Is.EqualTo(new[] { "completed", "pending" }));
        Assert.That((await Redis.SortedSetRangeByRankAsync("jobs:status:pending")).Select(i => i.ToString()),
            Is.EqualTo(new[] { wf.JobIds[1] }), "the completed job left the queue and its dependent joined it");
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.EqualTo(1));
        Assert.That((await Grains.Job(wf.JobIds[1]).GetAsync())!.Payload!["inputs"]!["0"]!["image_url"]!.ToString(), Does.EndWith("512.jpg"));

        await MarkCompletedBySeedCodeAsync(wf.JobIds[1], new JsonObject { ["upscale_factor"] = 2 });
        Assert.That(await workflow.JobCompletedAsync(wf.JobIds[1], new JsonObject { ["upscale_factor"] = 2 }), Is.True);
        Assert.That(await workflow.JobCompletedAsync(wf.JobIds[1], null), Is.False);

        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.Status, Is.EqualTo(WorkflowStatus.Completed));
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(2));
        var events = await EventsAsync(EventStreams.Workflows);
        Assert.That(events.Count(e => e.Type == "workflow_step_promoted"), Is.EqualTo(1));
        Assert.That(events.Count(e => e.Type == "workflow_completed"), Is.EqualTo(1));
        var jobEvents = await EventsAsync(EventStreams.Jobs);
        Assert.That(wf.JobIds.Select(id => jobEvents.Count(e => e.Type == "job_completed" && e["job_id"] == id)), Is.All.EqualTo(1));
        Assert.That(await Redis.SortedSetLengthAsync("jobs:status:completed"), Is.EqualTo(2), "the status index agrees");
    }

    /// <summary>
    /// Seed-era code calls the internal route for a job its worker still holds: the route completes it.
    /// </summary>
    private async Task MarkCompletedBySeedCodeAsync(string jobId, JsonObject result)
    {
        var assignment = await Grains.Jobs.ClaimAsync("w1", "m1", new WorkerCapabilities(), Lease) ?? throw new AssertionException("nothing was claimable");
        Assert.That(assignment.Job.Id, Is.EqualTo(jobId), "the claimed job");
    }

    [Test]
    public async Task Completing_a_step_twice_through_the_job_and_the_seed_route_counts_it_once()
    {
        var wf = await CreateAsync(Step(), Step(0));
        await RunAsync(wf.JobIds[0]);

        Assert.That(await Grains.Workflow(wf.WorkflowId).JobCompletedAsync(wf.JobIds[0], null), Is.False);

        var view = await ViewAsync(wf);
        Assert.That(view.Workflow.CompletedSteps, Is.EqualTo(1));
        Assert.That(view.Steps[1].Status, Is.EqualTo("pending"));
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
        for (var i = 0; i < 5; i++) created.Add((await CreateAsync(Step())).WorkflowId);

        var first = await Grains.Workflows.ListAsync(null, 3);
        var second = await Grains.Workflows.ListAsync(first.NextCursor, 3);

        Assert.That(first.Items.Select(w => w.Id), Is.EqualTo(created.AsEnumerable().Reverse().Take(3)));
        Assert.That(second.Items.Select(w => w.Id), Is.EqualTo(created.Take(2).Reverse()));
        Assert.That(second.NextCursor, Is.Null);
    }
}
