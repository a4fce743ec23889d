using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Jobs;

public sealed class JobLifecycleTests : GrainTestBase
{
    private static readonly WorkerCapabilities Sd = new() { GpuMemory = 24, ModelTypes = ["stable-diffusion"], Capabilities = ["text-to-image", "upscale"] };
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private Task<SubmittedJob> SubmitAsync(int priority = 50, JobRequirements? requirements = null, int maxRetries = 3, string type = "text-to-image") =>
        Grains.Jobs.SubmitAsync(new JobSubmission
        {
            Type = type, Payload = new JsonObject { ["prompt"] = "a lighthouse" }, Priority = priority,
            Requirements = requirements, MaxRetries = maxRetries,
        });

    private async Task<JobAssignment> ClaimAsync(string worker = "w1", WorkerCapabilities? caps = null) =>
        await Grains.Jobs.ClaimAsync(worker, "m1", caps ?? Sd, Lease) ?? throw new AssertionException("nothing was claimed");

    private async Task<List<string>> EventTypesAsync(string jobId) =>
        (await Redis.ReadStreamAsync("events:jobs")).Where(e => e["job_id"] == jobId).Select(e => e.Type).ToList();

    [Test]
    public async Task A_job_goes_from_submitted_to_completed_and_each_step_is_an_event()
    {
        var submitted = await SubmitAsync();
        var assignment = await ClaimAsync();
        var job = Grains.Job(submitted.JobId);
        await job.ReportProgressAsync(assignment.LeaseToken, 40, "denoising");
        var completed = await job.CompleteAsync(assignment.LeaseToken, new JsonObject { ["image_url"] = "https://example.test/a.png" });

        var state = await job.GetAsync();
        Assert.That(completed, Is.True);
        Assert.That(state!.Status, Is.EqualTo(JobStatus.Completed));
        Assert.That(state.Progress, Is.EqualTo(100));
        Assert.That(state.Result!["image_url"]!.ToString(), Is.EqualTo("https://example.test/a.png"));
        Assert.That(state.WorkerId, Is.EqualTo("w1"));
        Assert.That(state.StartedAt, Is.Not.Null);
        Assert.That(state.CompletedAt, Is.Not.Null);
        Assert.That(await EventTypesAsync(submitted.JobId),
            Is.EqualTo(new[] { "job_submitted", "job_assigned", "job_started", "job_progress", "job_completed" }));
    }

    [Test]
    public async Task A_job_keeps_its_own_typed_history_and_the_totals_count_it()
    {
        var submitted = await SubmitAsync();
        var assignment = await ClaimAsync();
        var job = Grains.Job(submitted.JobId);
        await job.ReportProgressAsync(assignment.LeaseToken, 55.5, "half");
        await job.CompleteAsync(assignment.LeaseToken, new JsonObject { ["n"] = 7 });

        var history = await job.HistoryAsync();
        var stats = await Grains.Stats.GetAsync(minutes: 5);

        Assert.That(history.Select(e => e["type"]!.ToString()), Is.EqualTo(new[] { "job_submitted", "job_assigned", "job_started", "job_progress", "job_completed" }));
        Assert.That(history[3]["progress"]!.GetValue<double>(), Is.EqualTo(55.5));
        Assert.That(history[4]["result"]!["n"]!.GetValue<int>(), Is.EqualTo(7));
        Assert.That(history.All(e => e["event_id"]!.ToString().Contains('-', StringComparison.Ordinal)), Is.True);
        Assert.That(stats.Jobs[JobStatus.Completed], Is.EqualTo(1));
        Assert.That(stats.Jobs[JobStatus.Pending], Is.Zero);
        Assert.That(stats.PerMinute.Sum(m => m.Submitted), Is.EqualTo(1));
        Assert.That(stats.PerMinute.Sum(m => m.Completed), Is.EqualTo(1));
    }

    [Test]
    public async Task A_claim_returns_the_job_exactly_as_it_is_stored_after_the_claim()
    {
        var submitted = await SubmitAsync(priority: 70, requirements: new() { ModelType = "stable-diffusion", Capabilities = ["text-to-image"] });

        var assignment = await ClaimAsync();
        var stored = await Grains.Job(submitted.JobId).GetAsync();

        Assert.That(System.Text.Json.JsonSerializer.Serialize(assignment.Job), Is.EqualTo(System.Text.Json.JsonSerializer.Serialize(stored)));
        Assert.That(assignment.Job.Attempts, Is.EqualTo(1));
        Assert.That(assignment.Job.Status, Is.EqualTo(JobStatus.Assigned));
        Assert.That(assignment.LeaseExpiresAtMs, Is.GreaterThan(0));
    }

    [Test]
    public async Task Equal_priorities_are_served_first_in_first_out_and_higher_priorities_before_them()
    {
        var first = await SubmitAsync(priority: 10);
        var second = await SubmitAsync(priority: 10);
        var urgent = await SubmitAsync(priority: 90);
        var third = await SubmitAsync(priority: 10);

        var order = new List<string>();
        for (var i = 0; i < 4; i++) order.Add((await ClaimAsync()).Job.Id);

        Assert.That(order, Is.EqualTo(new[] { urgent.JobId, first.JobId, second.JobId, third.JobId }));
    }

    [Test]
    public async Task A_worker_only_gets_jobs_whose_requirements_it_meets()
    {
        var llm = await SubmitAsync(priority: 99, requirements: new() { ModelType = "llm", GpuMemory = 40 });
        var sd = await SubmitAsync(priority: 1, requirements: new() { ModelType = "stable-diffusion", Capabilities = ["upscale"] });

        var claimed = await ClaimAsync();
        var nothing = await Grains.Jobs.ClaimAsync("w2", "m1", Sd, Lease);

        Assert.That(claimed.Job.Id, Is.EqualTo(sd.JobId));
        Assert.That(nothing, Is.Null);
        Assert.That((await Grains.Job(llm.JobId).GetAsync())!.Status, Is.EqualTo(JobStatus.Pending));
    }

    [Test]
    public async Task A_worker_takes_jobs_of_its_own_pool_before_higher_priority_jobs_of_another()
    {
        var standard = await SubmitAsync(priority: 90);
        var heavy = await SubmitAsync(priority: 10, requirements: new() { PoolPreference = "heavy" });

        var heavyWorker = await ClaimAsync("heavy-1", Sd with { PoolType = "heavy" });
        var standardWorker = await ClaimAsync("std-1");

        Assert.That(heavyWorker.Job.Id, Is.EqualTo(heavy.JobId));
        Assert.That(standardWorker.Job.Id, Is.EqualTo(standard.JobId));
    }

    [Test]
    public async Task A_stale_lease_token_is_refused_and_changes_nothing()
    {
        var submitted = await SubmitAsync();
        await ClaimAsync();
        var job = Grains.Job(submitted.JobId);

        var refused = Assert.ThrowsAsync<ClusterException>(() => job.CompleteAsync("not-the-token", new JsonObject()));
        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.StaleLease));
        Assert.ThrowsAsync<ClusterException>(() => job.ReportProgressAsync("not-the-token", 50));
        Assert.ThrowsAsync<ClusterException>(() => job.FailAsync("not-the-token", new JobError("X", "y")));

        var state = await job.GetAsync();
        Assert.That(state!.Status, Is.EqualTo(JobStatus.Assigned));
        Assert.That(state.Progress, Is.Zero);
    }

    [Test]
    public async Task A_failed_job_is_retried_after_a_backoff_until_its_retries_run_out_and_then_it_is_dead()
    {
        var submitted = await SubmitAsync(maxRetries: 2);
        var job = Grains.Job(submitted.JobId);
        var outcomes = new List<JobFailureOutcome>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var assignment = await Eventually.HoldsAsync(() => Grains.Jobs.ClaimAsync("w1", "m1", Sd, Lease), a => a is not null, because: "the retry becomes claimable after its backoff");
            Assert.That(assignment!.Job.Id, Is.EqualTo(submitted.JobId));
            outcomes.Add(await job.FailAsync(assignment.LeaseToken, new JobError("MODEL_LOAD_ERROR", "checkpoint missing")));
        }

        var state = await job.GetAsync();
        Assert.That(outcomes, Is.EqualTo(new[] { JobFailureOutcome.Retrying, JobFailureOutcome.Retrying, JobFailureOutcome.Dead }));
        Assert.That(state!.Status, Is.EqualTo(JobStatus.Dead));
        Assert.That(state.RetryCount, Is.EqualTo(3));
        Assert.That(state.Error, Is.EqualTo(new JobError("MODEL_LOAD_ERROR", "checkpoint missing")));
        Assert.That(await Grains.Jobs.ClaimAsync("w1", "m1", Sd, Lease), Is.Null);
    }

    [Test]
    public async Task A_failure_marked_not_retryable_ends_the_job_at_once()
    {
        var submitted = await SubmitAsync(maxRetries: 5);
        var assignment = await ClaimAsync();

        var outcome = await Grains.Job(submitted.JobId).FailAsync(assignment.LeaseToken, new JobError("BAD_INPUT", "no"), retryable: false);

        Assert.That(outcome, Is.EqualTo(JobFailureOutcome.Dead));
    }

    [Test]
    public async Task A_cancelled_job_cannot_be_claimed_and_its_worker_loses_the_lease()
    {
        var queued = await SubmitAsync();
        var running = await SubmitAsync(priority: 99);
        var assignment = await ClaimAsync();
        Assert.That(assignment.Job.Id, Is.EqualTo(running.JobId));

        await Grains.Job(queued.JobId).CancelAsync("changed my mind");
        await Grains.Job(running.JobId).CancelAsync();

        Assert.That(await Grains.Jobs.ClaimAsync("w2", "m1", Sd, Lease), Is.Null);
        var late = Assert.ThrowsAsync<ClusterException>(() => Grains.Job(running.JobId).CompleteAsync(assignment.LeaseToken, null));
        Assert.That(late!.Code, Is.EqualTo(ErrorCodes.StaleLease));
        Assert.That((await Grains.Job(running.JobId).GetAsync())!.Status, Is.EqualTo(JobStatus.Cancelled));
    }

    [Test]
    public async Task A_dead_job_retried_by_hand_runs_again()
    {
        var submitted = await SubmitAsync(maxRetries: 0);
        var assignment = await ClaimAsync();
        await Grains.Job(submitted.JobId).FailAsync(assignment.LeaseToken, new JobError("X", "y"));

        await Grains.Job(submitted.JobId).RetryAsync();

        var again = await ClaimAsync();
        Assert.That(again.Job.Id, Is.EqualTo(submitted.JobId));
        Assert.That(again.Job.RetryCount, Is.Zero);
    }

    [Test]
    public async Task Submitting_twice_with_one_idempotency_key_gives_one_job()
    {
        var submission = new JobSubmission { Type = "upscale", Payload = new JsonObject(), IdempotencyKey = "order-42" };

        var first = await Grains.Jobs.SubmitAsync(submission);
        var second = await Grains.Jobs.SubmitAsync(submission);

        Assert.That(first.Created, Is.True);
        Assert.That(second, Is.EqualTo(first with { Created = false }));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Submissions_racing_with_one_idempotency_key_give_one_job()
    {
        var submission = new JobSubmission { Type = "upscale", Payload = new JsonObject(), IdempotencyKey = "order-43" };

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Grains.Jobs.SubmitAsync(submission)));

        Assert.That(results.Select(r => r.JobId).Distinct().Count(), Is.EqualTo(1));
        Assert.That(results.Count(r => r.Created), Is.EqualTo(1));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Completing_twice_is_harmless()
    {
        var submitted = await SubmitAsync();
        var assignment = await ClaimAsync();
        var job = Grains.Job(submitted.JobId);

        Assert.That(await job.CompleteAsync(assignment.LeaseToken, new JsonObject { ["n"] = 1 }), Is.True);
        Assert.That(await job.CompleteAsync(assignment.LeaseToken, new JsonObject { ["n"] = 2 }), Is.False);
        Assert.That((await job.GetAsync())!.Result!["n"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That((await EventTypesAsync(submitted.JobId)).Count(t => t == "job_completed"), Is.EqualTo(1));
    }

    [Test]
    public async Task Jobs_are_listed_newest_first_with_filters_and_a_cursor()
    {
        var ids = new List<string>();
        for (var i = 0; i < 7; i++) ids.Add((await SubmitAsync(type: i % 2 == 0 ? "text-to-image" : "upscale")).JobId);
        await ClaimAsync();

        var pages = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Grains.Jobs.ListAsync(new JobQuery { Limit = 3, Cursor = cursor });
            pages.AddRange(page.Items.Select(j => j.Id));
            cursor = page.NextCursor;
        } while (cursor is not null);
        var upscales = await Grains.Jobs.ListAsync(new JobQuery { Type = "upscale", Status = JobStatus.Pending });
        var byWorker = await Grains.Jobs.ListAsync(new JobQuery { WorkerId = "w1" });

        Assert.That(pages, Is.EqualTo(Enumerable.Reverse(ids).ToArray()));
        Assert.That(upscales.Items.Select(j => j.Id), Is.EqualTo(new[] { ids[5], ids[3], ids[1] }));
        Assert.That(byWorker.Items.Select(j => j.Id), Is.EqualTo(new[] { ids[0] }));
    }

    [Test]
    public async Task A_last_page_that_is_exactly_full_has_no_cursor()
    {
        for (var i = 0; i < 6; i++) await SubmitAsync();

        var first = await Grains.Jobs.ListAsync(new JobQuery { Limit = 3 });
        var second = await Grains.Jobs.ListAsync(new JobQuery { Limit = 3, Cursor = first.NextCursor });

        Assert.That(first.NextCursor, Is.Not.Null);
        Assert.That(second.Items, Has.Count.EqualTo(3));
        Assert.That(second.NextCursor, Is.Null);
    }

    [Test]
    public async Task Out_of_range_priority_and_missing_ids_are_refused_with_a_code()
    {
        var bad = Assert.ThrowsAsync<ClusterException>(() => SubmitAsync(priority: -1));
        Assert.That(bad!.Code, Is.EqualTo(ErrorCodes.ValidationError));
        var missing = Assert.ThrowsAsync<ClusterException>(() => Grains.Job("nope").CancelAsync());
        Assert.That(missing!.Code, Is.EqualTo(ErrorCodes.JobNotFound));
        Assert.That(await Grains.Jobs.PendingCountAsync(), Is.Zero);
    }
}
