using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Streaming;
using Cluster.IntegrationTests.Orleans;
using Cluster.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Jobs;

/// <summary>
/// The job grain on a real redis-server: the transitions JobLifecycleTests drives through the API, each
/// one write whose event reaches the <c>jobs</c> topic and the job's history with the index changes it implies.
/// </summary>
public sealed class JobGrainTests : RedisServerTest
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private TestCluster _cluster = null!;
    private IDatabase _redis = null!;
    private IConnectionMultiplexer _connection = null!;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        _cluster = await RedisTestCluster.DeployAsync(RedisServer, silos: 2);
        _connection = await ConnectionMultiplexer.ConnectAsync(RedisServer.ConnectionString);
        _redis = _connection.GetDatabase();
    }

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        await _cluster.DisposeAsync();
        await _connection.DisposeAsync();
    }

    private async Task<(string Id, IJobGrain Job)> CreateAsync(int maxRetries = 3, JobPlacement? placement = null, string? idempotencyKey = null)
    {
        var id = "job-" + Guid.NewGuid().ToString("N")[..12];
        var created = await _cluster.Client.GetGrain<IJobControlGrain>(id).CreateAsync(new JobSubmission
        {
            Type = "text-to-image", Payload = new JsonObject { ["prompt"] = "a lighthouse", ["sizes"] = new JsonArray() },
            MaxRetries = maxRetries, IdempotencyKey = idempotencyKey,
        }, placement ?? JobPlacement.Alone);
        Assert.That(created, Is.True);
        return (id, _cluster.Client.GetGrain<IJobGrain>(id));
    }

    private Task<JobAssignment?> AssignAsync(string id, string worker = "w1") =>
        _cluster.Client.GetGrain<IJobControlGrain>(id).AssignAsync(worker, "m1", Guid.NewGuid().ToString("N"), Lease);

    /// <summary>The events of one job on the <c>jobs</c> topic, in order, decoded as a consumer would.</summary>
    private async Task<List<TopicEvent>> EventsAsync(string id)
    {
        var serializer = _cluster.ServiceProvider.GetRequiredService<Serializer>();
        return (await _redis.StreamRangeAsync("events:jobs"))
            .Select(e => RedisStreamEntryFormat.TryDecode(e, serializer, out var d, topic: "jobs") ? (TopicEvent)d.Events[0]! : null)
            .OfType<TopicEvent>().Where(e => e.Fields["job_id"] == id).ToList();
    }

    [Test]
    public async Task A_job_goes_from_created_to_completed_and_each_step_is_an_event_on_the_jobs_topic()
    {
        var (id, job) = await CreateAsync();
        var assignment = await AssignAsync(id) ?? throw new AssertionException("not assigned");
        await job.ReportProgressAsync(assignment.LeaseToken, 40, "denoising");
        var completed = await job.CompleteAsync(assignment.LeaseToken, new JsonObject { ["image_url"] = "a.png" });

        var state = await job.GetAsync();
        var events = await EventsAsync(id);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(completed, Is.True);
            Assert.That(state!.Status, Is.EqualTo(JobStatus.Completed));
            Assert.That(state.Progress, Is.EqualTo(100));
            Assert.That(state.Result!["image_url"]!.ToString(), Is.EqualTo("a.png"));
            Assert.That(state.Payload!.ToJsonString(), Does.Contain("\"sizes\":[]"), "an empty array stays an array");
            Assert.That((state.WorkerId, state.Attempts), Is.EqualTo(("w1", 1)));
            Assert.That(state.StartedAt, Is.Not.Null);
            Assert.That(events.Select(e => e.Type), Is.EqualTo(new[] { "job_submitted", "job_assigned", "job_started", "job_progress", "job_completed" }));
            Assert.That(events[^1].Fields["result"], Is.EqualTo("{\"image_url\":\"a.png\"}"));
            Assert.That(events[3].Fields["progress"], Is.EqualTo("40"));
        }
    }

    [Test]
    public async Task A_jobs_events_are_stored_flat_as_the_lua_functions_store_them_so_every_reader_of_the_topic_reads_both()
    {
        var (id, _) = await CreateAsync();

        var entry = (await _redis.StreamRangeAsync("events:jobs")).Single(e => e.Values.Any(v => v.Name == "job_id" && v.Value == id));

        Assert.That(entry.Values.Select(v => (string)v.Name!), Is.EqualTo(new[] { "type", "job_id", "status", "job_type", "priority", "retry_count" }),
            "the type first, then the fields in their fixed order, empty ones left out");
        Assert.That(entry.Values.Select(v => (string)v.Value!), Is.EqualTo(new[] { "job_submitted", id, "pending", "text-to-image", "50", "0" }));
    }

    [Test]
    public async Task The_history_holds_the_events_with_their_stream_ids_and_typed_fields()
    {
        var (id, job) = await CreateAsync();
        var assignment = (await AssignAsync(id))!;
        await job.ReportProgressAsync(assignment.LeaseToken, 55.5, "half");

        var history = await job.HistoryAsync();
        var streamIds = (await _redis.StreamRangeAsync("events:jobs")).Select(e => e.Id.ToString()).ToHashSet();

        Assert.That(history.Select(e => e["type"]!.ToString()), Is.EqualTo(new[] { "job_submitted", "job_assigned", "job_started", "job_progress" }));
        Assert.That(history.Select(e => e["event_id"]!.ToString()), Is.SubsetOf(streamIds), "each history entry carries its event's stream id");
        Assert.That(history[^1]["progress"]!.GetValue<double>(), Is.EqualTo(55.5));
    }

    [Test]
    public async Task A_stale_lease_token_is_refused_and_changes_nothing()
    {
        var (id, job) = await CreateAsync();
        await AssignAsync(id);
        var before = await EventsAsync(id);

        var refused = Assert.ThrowsAsync<ClusterException>(() => job.CompleteAsync("not-the-token", null));

        Assert.That(refused!.Code, Is.EqualTo(ErrorCodes.StaleLease));
        Assert.That((await job.GetAsync())!.Status, Is.EqualTo(JobStatus.Assigned));
        Assert.That(await EventsAsync(id), Has.Count.EqualTo(before.Count));
    }

    [Test]
    public async Task A_failed_job_is_delayed_with_a_growing_backoff_until_its_retries_run_out_and_then_it_is_dead()
    {
        var (id, job) = await CreateAsync(maxRetries: 1);
        var first = (await AssignAsync(id))!;
        var outcome = await job.FailAsync(first.LeaseToken, new JobError("CUDA_OOM", "out of memory"));
        var delayed = await job.GetAsync();
        var due = await _redis.SortedSetScoreAsync("jobs:delayed", id);

        await Eventually.UntilAsync(async () => (await job.GetAsync())!.Status == JobStatus.Pending, "the job's timer puts it back in line once its backoff is over");
        var second = (await AssignAsync(id))!;
        var last = await job.FailAsync(second.LeaseToken, new JobError("CUDA_OOM", "again"));

        var dead = await job.GetAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcome, Is.EqualTo(JobFailureOutcome.Retrying));
            Assert.That(delayed!.Status, Is.EqualTo(JobStatus.Delayed));
            Assert.That(due, Is.Not.Null, "a delayed job is in jobs:delayed with its due time");
            Assert.That(last, Is.EqualTo(JobFailureOutcome.Dead));
            Assert.That(second.Job.RetryCount, Is.EqualTo(1), "a retry after the backoff keeps the count");
            Assert.That(dead!.Status, Is.EqualTo(JobStatus.Dead));
            Assert.That(dead.Error, Is.EqualTo(new JobError("CUDA_OOM", "again")));
            Assert.That(await _redis.SortedSetScoreAsync("jobs:status:dead", id), Is.Not.Null);
            Assert.That(await _redis.SortedSetScoreAsync("jobs:status:delayed", id), Is.Null, "the status indexes moved with the job");
            Assert.That((await EventsAsync(id))[^1].Type, Is.EqualTo("job_dead"));
        }
    }

    [Test]
    public async Task An_attempt_whose_lease_runs_out_is_failed_with_LEASE_EXPIRED_and_put_back_in_line()
    {
        var (id, job) = await CreateAsync();
        var assignment = await _cluster.Client.GetGrain<IJobControlGrain>(id).AssignAsync("w1", "m1", "token-1", TimeSpan.FromMilliseconds(300));

        await Eventually.UntilAsync(async () => (await job.GetAsync())!.Status == JobStatus.Pending, "the lease timer fails the attempt and the retry is due at once");

        var state = await job.GetAsync();
        Assert.That(state!.Error!.Code, Is.EqualTo("LEASE_EXPIRED"));
        Assert.That(state.RetryCount, Is.EqualTo(1));
        Assert.That(Assert.ThrowsAsync<ClusterException>(() => job.CompleteAsync(assignment!.LeaseToken, null))!.Code, Is.EqualTo(ErrorCodes.StaleLease));
    }

    [Test]
    public async Task Renewals_keep_a_lease_alive_and_reach_Redis_once_it_lags_by_half_a_lease()
    {
        var (id, job) = await CreateAsync();
        var control = _cluster.Client.GetGrain<IJobControlGrain>(id);
        var lease = TimeSpan.FromSeconds(1);
        await control.AssignAsync("w1", "m1", "token-2", lease);
        var stored = await _redis.SortedSetScoreAsync("jobs:leases", id);

        var renewedAtOnce = await control.RenewLeaseAsync("token-2", lease);
        var storedAfterOne = await _redis.SortedSetScoreAsync("jobs:leases", id);
        var refused = await control.RenewLeaseAsync("someone-else", lease);
        // Renewing for three leases' time: the job stays held, and the stored expiry moves on.
        var until = DateTime.UtcNow + 3 * lease;
        while (DateTime.UtcNow < until)
        {
            Assert.That(await control.RenewLeaseAsync("token-2", lease), Is.True, "the lease is still the worker's");
            await Task.Delay(100);
        }

        Assert.That(renewedAtOnce, Is.True);
        Assert.That(storedAfterOne, Is.EqualTo(stored), "a renewal within half a lease is not written");
        Assert.That(refused, Is.False);
        Assert.That((await job.GetAsync())!.Status, Is.EqualTo(JobStatus.Assigned));
        Assert.That(await _redis.SortedSetScoreAsync("jobs:leases", id), Is.GreaterThan(stored!.Value), "the stored expiry followed the renewals");
    }

    [Test]
    public async Task A_failure_marked_not_retryable_ends_the_job_at_once()
    {
        var (id, job) = await CreateAsync(maxRetries: 5);
        var assignment = (await AssignAsync(id))!;

        var outcome = await job.FailAsync(assignment.LeaseToken, new JobError("BAD_INPUT", "no"), retryable: false);

        Assert.That(outcome, Is.EqualTo(JobFailureOutcome.Dead));
        Assert.That((await job.GetAsync())!.Status, Is.EqualTo(JobStatus.Dead));
    }

    [Test]
    public async Task A_cancelled_job_cannot_be_assigned_and_its_worker_loses_the_lease()
    {
        var (id, job) = await CreateAsync();
        var assignment = (await AssignAsync(id))!;

        await job.CancelAsync("changed my mind");

        var late = Assert.ThrowsAsync<ClusterException>(() => job.CompleteAsync(assignment.LeaseToken, null));
        Assert.That(late!.Code, Is.EqualTo(ErrorCodes.StaleLease));
        Assert.That(await AssignAsync(id), Is.Null);
        Assert.That(await _redis.SortedSetScoreAsync("jobs:leases", id), Is.Null, "no lease left to expire");
        Assert.That(Assert.ThrowsAsync<ClusterException>(() => job.CancelAsync())!.Code, Is.EqualTo(ErrorCodes.InvalidState));
    }

    [Test]
    public async Task A_dead_job_retried_by_hand_is_pending_again_with_its_retry_count_reset()
    {
        var (id, job) = await CreateAsync(maxRetries: 0);
        var assignment = (await AssignAsync(id))!;
        await job.FailAsync(assignment.LeaseToken, new JobError("X", "x"));

        await job.RetryAsync();

        var state = await job.GetAsync();
        Assert.That((state!.Status, state.RetryCount), Is.EqualTo((JobStatus.Pending, 0)));
        Assert.That(await AssignAsync(id), Is.Not.Null);
    }

    [Test]
    public async Task Completing_twice_is_harmless_and_creating_twice_creates_once()
    {
        var (id, job) = await CreateAsync();
        var assignment = (await AssignAsync(id))!;

        var first = await job.CompleteAsync(assignment.LeaseToken, 1);
        var second = await job.CompleteAsync(assignment.LeaseToken, 2);
        var again = await _cluster.Client.GetGrain<IJobControlGrain>(id).CreateAsync(
            new JobSubmission { Type = "x", Payload = [] }, JobPlacement.Alone);

        Assert.That((first, second, again), Is.EqualTo((true, false, false)));
        Assert.That((await job.GetAsync())!.Result!.GetValue<int>(), Is.EqualTo(1));
        Assert.That((await EventsAsync(id)).Count(e => e.Type == "job_completed"), Is.EqualTo(1));
    }

    [Test]
    public async Task An_unknown_job_is_not_found_and_a_waiting_step_cannot_be_assigned()
    {
        var unknown = _cluster.Client.GetGrain<IJobGrain>("no-such-job");
        var (id, _) = await CreateAsync(placement: new JobPlacement { WorkflowId = "wf-1", StepIndex = 1, Waiting = true });

        Assert.That(await unknown.GetAsync(), Is.Null);
        Assert.That(Assert.ThrowsAsync<ClusterException>(() => unknown.CancelAsync())!.Code, Is.EqualTo(ErrorCodes.JobNotFound));
        Assert.That(await AssignAsync(id), Is.Null);
        Assert.That(await _redis.SortedSetScoreAsync("jobs:workflow:wf-1", id), Is.Not.Null);
    }

    /// <summary>The jobs whose grains are active anywhere in the cluster.</summary>
    private async Task<HashSet<string>> ActiveJobsAsync()
    {
        var type = _cluster.Client.GetGrain<IJobGrain>("any").GetGrainId().Type;
        var active = await _cluster.Client.GetGrain<IManagementGrain>(0).GetActiveGrains(type);
        return active.Select(g => g.Key.ToString()).ToHashSet(StringComparer.Ordinal);
    }

    [Test]
    public async Task A_job_that_ended_leaves_memory_at_once_and_is_read_retried_and_refused_from_storage_after()
    {
        var (done, doneJob) = await CreateAsync();
        var first = (await AssignAsync(done))!;
        await doneJob.CompleteAsync(first.LeaseToken, new JsonObject { ["image_url"] = "a.png" });
        var (dead, deadJob) = await CreateAsync(maxRetries: 0);
        var second = (await AssignAsync(dead))!;
        await deadJob.FailAsync(second.LeaseToken, new JobError("X", "x"));
        var (cancelled, cancelledJob) = await CreateAsync();
        await cancelledJob.CancelAsync("changed my mind");
        var (held, heldJob) = await CreateAsync();
        Assert.That(await AssignAsync(held), Is.Not.Null);

        await Eventually.UntilAsync(async () => !(await ActiveJobsAsync()).Overlaps([done, dead, cancelled]),
            "a completed, a dead and a cancelled job leave memory without waiting for Orleans' idle age");
        var stillActive = (await ActiveJobsAsync()).Contains(held);

        var completed = await doneJob.GetAsync();
        var history = await doneJob.HistoryAsync();
        var completedAgain = await doneJob.CompleteAsync(first.LeaseToken, 2);
        await deadJob.RetryAsync();
        var retried = await deadJob.GetAsync();
        var reassigned = await AssignAsync(dead);
        var cancelAgain = Assert.ThrowsAsync<ClusterException>(() => cancelledJob.CancelAsync());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(stillActive, Is.True, "a held job stays in memory, where its renewed lease lives");
            Assert.That((completed!.Status, completed.Result!["image_url"]!.ToString()), Is.EqualTo((JobStatus.Completed, "a.png")));
            Assert.That(history.Select(e => e["type"]!.ToString()), Is.EqualTo(new[] { "job_submitted", "job_assigned", "job_completed" }));
            Assert.That(completedAgain, Is.False, "completing a job read back from storage is still harmless");
            Assert.That((retried!.Status, retried.RetryCount), Is.EqualTo((JobStatus.Pending, 0)), "a dead job read back is retried by hand");
            Assert.That(reassigned, Is.Not.Null);
            Assert.That(cancelAgain!.Code, Is.EqualTo(ErrorCodes.InvalidState), "a cancelled job read back is still cancelled");
            Assert.That((await heldJob.GetAsync())!.Status, Is.EqualTo(JobStatus.Assigned));
            Assert.That((await EventsAsync(done)).Count(e => e.Type == "job_completed"), Is.EqualTo(1));
        }
    }

    [Test]
    public async Task An_idempotency_key_is_recorded_with_the_job_for_a_day()
    {
        var key = "idem-" + Guid.NewGuid().ToString("N");
        var (id, _) = await CreateAsync(idempotencyKey: key);

        Assert.That((string?)await _redis.StringGetAsync("idempotency:" + key), Is.EqualTo(id));
        Assert.That(await _redis.KeyTimeToLiveAsync("idempotency:" + key), Is.GreaterThan(TimeSpan.FromHours(23)));
    }
}
