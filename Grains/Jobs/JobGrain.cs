using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Storage;
using Cluster.Grains.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using StackExchange.Redis;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Jobs;

/// <summary>
/// One job on the Orleans runtime: the single writer of its record. Every transition is one write of the outbox
/// storage, carrying the transition's event (topic <c>jobs</c> and the job's history) and the listing-index
/// changes it implies, so none of them can be lost without the others. After a write that makes the job pending it is enqueued in the
/// <see cref="JobQueueGrain"/>; after one that takes a pending job out other than by a claim, it is removed.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", JobGrain.Storage)] IPersistentState<JobRecord> state,
    ClusterGrainOptions options, IServiceProvider services, ILogger<JobGrain> logger) : Grain, IJobGrain, IJobControlGrain
{
    /// <summary>The outbox storage provider the job grains are written through.</summary>
    public const string Storage = "outbox";
    public const string Topic = "jobs";
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(1);
    private static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);
    private static readonly TimeSpan StatsKept = TimeSpan.FromHours(2);
    private IGrainTimer? _timer;
    private long _storedLeaseExpiresAtMs;
    private (string Worker, string LeaseToken)? _releasedHold;
    /// <summary>The status as last written: what the queue was last told about; a write that moves it to a terminal one ends a workflow step.</summary>
    private string _storedStatus = "";
    /// <summary>The write in flight, which the workflow's interleaving requests wait for before they act.</summary>
    private Task _writing = Task.CompletedTask;

    private JobRecord Job => state.State;
    private string Id => this.GetPrimaryKeyString();

    // ---- what people and workers do -------------------------------------------------------------------

    public Task<JobState?> GetAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Job.Exists ? View(Job) : null);

    public async Task ReportProgressAsync(string leaseToken, double progress, string? message = null, CancellationToken cancellationToken = default)
    {
        CheckLease(leaseToken);
        if (double.IsNaN(progress) || progress is < 0 or > 100)
            throw new ClusterException(ErrorCodes.ValidationError, "progress must be a number from 0 to 100");
        var now = NowMs;
        if (Job.Status == JobStatus.Assigned)
        {
            Move(JobStatus.Running);
            Job.StartedMs = now;
            Publish("job_started");
        }
        Job.Progress = progress;
        Job.ProgressMessage = message ?? "";
        if (Job.LeaseToken is { Length: > 0 }) ExtendLease(now + (long)options.Lease.TotalMilliseconds);
        Publish("job_progress", ("progress", Number(progress)), ("message", message ?? ""));
        await WriteAsync(cancellationToken);
    }

    public async Task<bool> CompleteAsync(string leaseToken, JsonNode? result, CancellationToken cancellationToken = default)
    {
        if (Job.Status == JobStatus.Completed) return false;
        CheckLease(leaseToken);
        MarkCompleted(result?.ToJsonString(ClusterJson.Options) ?? "null");
        await WriteAsync(cancellationToken);
        return true;
    }

    public async Task<JobFailureOutcome> FailAsync(string leaseToken, JobError error, bool retryable = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(error);
        CheckLease(leaseToken);
        var outcome = FailAttempt(error, retryable, options.RetryBackoff);
        await WriteAsync(cancellationToken);
        return outcome;
    }

    public async Task<IReadOnlyList<JsonObject>> HistoryAsync(CancellationToken cancellationToken = default)
    {
        var storage = (OutboxGrainStorage)services.GetRequiredKeyedService<IGrainStorage>(Storage);
        var entries = await storage.ReadHistoryAsync(this.GetGrainId());
        var history = new List<JsonObject>(entries.Length);
        foreach (var text in entries)
        {
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0 || JsonNode.Parse(text[(space + 1)..]) is not JsonObject item) continue;
            var withId = new JsonObject { ["event_id"] = text[..space] };
            foreach (var (name, value) in item) withId[name] = value?.DeepClone();
            history.Add(withId);
        }
        return history;
    }

    public async Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!Job.Exists) throw NotFound();
        if (JobStatus.IsTerminal(Job.Status)) throw new ClusterException(ErrorCodes.InvalidState, $"job {Id} is already {Job.Status}");
        var now = NowMs;
        Unqueue();
        Release();
        Move(JobStatus.Cancelled);
        Job.CompletedMs = now;
        Job.CancelReason = reason ?? "";
        Publish("job_cancelled", ("reason", reason ?? ""));
        await WriteAsync(cancellationToken);
    }

    public async Task RetryAsync(CancellationToken cancellationToken = default)
    {
        if (!Job.Exists) throw NotFound();
        if (Job.Status is not (JobStatus.Dead or JobStatus.Cancelled or JobStatus.Delayed))
            throw new ClusterException(ErrorCodes.InvalidState, $"job {Id} is {Job.Status}; only dead, failed, cancelled or delayed jobs can be retried");
        if (Job.Status != JobStatus.Delayed && await RetryAsStepAsync(cancellationToken)) return;
        Job.RetryCount = 0;
        Job.Progress = 0;
        Job.CompletedMs = 0;
        Job.Result = null;
        Requeue("manual_retry");
        await WriteAsync(cancellationToken);
    }

    // ---- what the cluster's grains do ------------------------------------------------------------------

    public async Task<bool> CreateAsync(JobSubmission submission, JobPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(submission);
        ArgumentNullException.ThrowIfNull(placement);
        if (Job.Exists) return false;
        Validate(submission);
        var now = NowMs;
        Job.Id = Id;
        Job.Type = submission.Type;
        Job.Priority = submission.Priority;
        Job.Payload = submission.Payload.ToJsonString(ClusterJson.Options);
        Job.Requirements = submission.Requirements;
        Job.MaxRetries = submission.MaxRetries;
        Job.TimeoutMs = submission.TimeoutMs;
        Job.IdempotencyKey = submission.IdempotencyKey;
        Job.WebhookUrl = submission.WebhookUrl;
        Job.WebhookEvents = submission.WebhookEvents;
        Job.Tenant = submission.Tenant;
        if (Job.WebhookUrl is { Length: > 0 } url) WebhookTargets.Register(Job.Outbox, "job", Id, url, Job.WebhookEvents);
        Job.WorkflowId = placement.WorkflowId;
        Job.StepIndex = placement.StepIndex;
        Job.Sequence = placement.Sequence > 0 ? placement.Sequence : JobSequence.Next();
        Job.CreatedMs = now;
        Index("jobs:type:" + Job.Type);
        if (Job.WorkflowId is { } workflow) Index("jobs:workflow:" + workflow);
        Move(placement.Waiting ? JobStatus.Waiting : JobStatus.Pending);
        if (Job.IdempotencyKey is { } key) Job.Outbox.StringSet("idempotency:" + key, Id, IdempotencyWindow);
        Count("submitted", now);
        Publish("job_submitted");
        await WriteAsync();
        return true;
    }

    public async Task<JobAssignment?> AssignAsync(string workerId, string machineId, string leaseToken, TimeSpan lease)
    {
        if (Job.Status != JobStatus.Pending) return null;
        var now = NowMs;
        Move(JobStatus.Assigned);
        Job.WorkerId = workerId;
        Job.MachineId = machineId;
        Job.LeaseToken = leaseToken;
        Job.AssignedMs = now;
        Job.Attempts++;
        ExtendLease(now + (long)lease.TotalMilliseconds);
        if (Job.TimeoutMs > 0) Job.Outbox.SortedSetAdd("jobs:deadlines", Id, now + Job.TimeoutMs);
        if (workerId.Length > 0) Index("jobs:worker:" + workerId);
        if (machineId.Length > 0) Index("jobs:machine:" + machineId);
        Publish("job_assigned", ("lease_expires_at", Job.LeaseExpiresAtMs.ToString(CultureInfo.InvariantCulture)));
        await WriteAsync();
        var assignment = new JobAssignment(View(Job), leaseToken, Job.LeaseExpiresAtMs);
        if (workerId.Length > 0 && !await TellWorkerAsync(workerId, leaseToken))
        {
            // Assigned as the worker went offline: it will never run the job. The claim still ends with this answer
            // (its lease no longer holds), so that the queue does not hand the offline worker one job after another.
            FailAttempt(new JobError("WORKER_LOST", $"worker {workerId} is offline"), retryable: true, TimeSpan.Zero);
            await WriteAsync();
        }
        return assignment;
    }

    /// <summary>
    /// A hold handed out again to its worker (its claim's answer was lost) gets a full lease, as the assignment did: in
    /// memory only, as a heartbeat's renewal, since this request interleaves with the job's own writes.
    /// </summary>
    public async Task<JobAssignment?> HeldByAsync(string workerId)
    {
        await AfterWriteInFlightAsync();
        if (!Job.IsHeld || Job.WorkerId != workerId || Job.LeaseToken is not { } token) return null;
        Job.LeaseExpiresAtMs = Math.Max(Job.LeaseExpiresAtMs, NowMs + (long)options.Lease.TotalMilliseconds);
        ArmTimer();
        return new JobAssignment(View(Job), token, Job.LeaseExpiresAtMs);
    }

    /// <summary>
    /// Tells the worker of its hold before the assignment answers; false when the worker refuses it. A worker that
    /// cannot be reached is not told: the assignment still answers, and a hold nobody renews ends with its lease.
    /// </summary>
    private async Task<bool> TellWorkerAsync(string workerId, string leaseToken)
    {
        try
        {
            return await GrainFactory.GetGrain<IWorkerControlGrain>(workerId).JobHeldAsync(Id, leaseToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogWorkerUnreached(e, Id, workerId);
            return true;
        }
    }

    public async Task<bool> WakeAsync()
    {
        var now = NowMs;
        if (Job.Status == JobStatus.Delayed && Job.RetryAtMs <= now) Requeue("retry");
        else if (Job.IsHeld && Job.LeaseExpiresAtMs <= now)
            FailAttempt(new JobError("LEASE_EXPIRED", "the worker stopped renewing its lease"), retryable: true, TimeSpan.Zero);
        else if (Job.IsHeld && Job.TimeoutMs > 0 && Job.AssignedMs + Job.TimeoutMs <= now)
            FailAttempt(new JobError("TIMEOUT", $"the job ran longer than its timeout of {Job.TimeoutMs} ms"), retryable: true, TimeSpan.FromSeconds(1));
        else
        {
            ArmTimer(); // a timer may fire a little early, or the lease was renewed since it was armed
            return false;
        }
        await WriteAsync();
        return true;
    }

    /// <summary>
    /// Heartbeats renew leases in memory; the stored expiry (and <c>jobs:leases</c>, which the sweeper reads for jobs
    /// whose silo died) is written only once it lags by half a lease, so a running job costs Redis a write per half
    /// lease rather than one per heartbeat.
    /// </summary>
    public async Task<bool> RenewLeaseAsync(string leaseToken, TimeSpan lease)
    {
        if (!Job.IsHeld || Job.LeaseToken != leaseToken) return false;
        var expires = NowMs + (long)lease.TotalMilliseconds;
        if (expires - _storedLeaseExpiresAtMs < (long)lease.TotalMilliseconds / 2)
        {
            Job.LeaseExpiresAtMs = Math.Max(Job.LeaseExpiresAtMs, expires);
            ArmTimer();
            return true;
        }
        ExtendLease(expires);
        await WriteAsync();
        return true;
    }

    // ---- what the worker grains do ----------------------------------------------------------------------

    public async Task<bool> FailLeaseAsync(string leaseToken, JobError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (!Job.IsHeld || Job.LeaseToken != leaseToken) return false;
        FailAttempt(error, retryable: true, TimeSpan.Zero);
        await WriteAsync();
        return true;
    }

    // ---- workflow steps: what the workflow grain does to its steps' jobs ---------------------------------------

    public Task<JobState?> PeekAsync() => Task.FromResult(Job.Exists ? View(Job) : null);

    public async Task<StepNotice?> PromoteAsync(int generation, string inputs, string reason)
    {
        await AfterWriteInFlightAsync();
        if (Job.Status == JobStatus.Waiting && Job.StepGeneration == generation)
        {
            Job.StepPayload ??= Job.Payload;
            Job.Payload = WithInputs(Job.StepPayload, inputs);
            Requeue(reason);
            await WriteQuietlyAsync();
        }
        return StepFacts();
    }

    public async Task<StepNotice?> CancelByWorkflowAsync(string reason)
    {
        await AfterWriteInFlightAsync();
        if (Job.Exists && !JobStatus.IsTerminal(Job.Status))
        {
            Unqueue();
            Release();
            Move(JobStatus.Cancelled);
            Job.CompletedMs = NowMs;
            Job.CancelReason = reason;
            Job.CancelledByWorkflow = true;
            Publish("job_cancelled", ("reason", reason));
            await WriteQuietlyAsync();
        }
        return StepFacts();
    }

    public async Task<StepNotice?> RestoreAsync(int generation, bool pending, string? inputs, string reason)
    {
        await AfterWriteInFlightAsync();
        if (!Job.Exists || Job.StepGeneration >= generation) return StepFacts();
        // A job that is not dead or cancelled (it completed before the workflow heard) joins the generation as it is.
        Job.StepGeneration = generation;
        if (Job.Status is JobStatus.Dead or JobStatus.Cancelled)
        {
            Unqueue();
            Job.RetryCount = 0;
            Job.Progress = 0;
            Job.CompletedMs = 0;
            Job.Result = null;
            Job.CancelReason = null;
            Job.CancelledByWorkflow = false;
            if (pending)
            {
                if (inputs is not null) Job.Payload = WithInputs(Job.StepPayload ??= Job.Payload, inputs);
                Requeue(reason);
            }
            else
            {
                Move(JobStatus.Waiting);
                Publish("job_waiting", ("reason", reason));
            }
        }
        await WriteQuietlyAsync();
        return StepFacts();
    }

    public async Task<StepNotice?> CompleteForWorkflowAsync(string result)
    {
        await AfterWriteInFlightAsync();
        if (Job.IsHeld)
        {
            MarkCompleted(result);
            await WriteQuietlyAsync();
        }
        return StepFacts();
    }

    public Task NotifyWorkflowAsync() => JobStatus.IsTerminal(Job.Status) ? TellWorkflowAsync() : Task.CompletedTask;

    /// <summary>
    /// A dead or cancelled step is retried by its workflow, which brings back the steps cancelled because of it;
    /// false when the job is no step of a workflow that exists.
    /// </summary>
    private async Task<bool> RetryAsStepAsync(CancellationToken cancellationToken)
    {
        if (Job.WorkflowId is not { } workflow || Job.StepIndex is not { } step) return false;
        try
        {
            await GrainFactory.GetGrain<IWorkflowGrain>(workflow).RetryStepAsync(step, cancellationToken);
            return true;
        }
        catch (ClusterException e) when (e.Code == ErrorCodes.WorkflowNotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Tells the workflow that its step ended, after the write that ended it. A failure is logged, not thrown: the
    /// transition is written, and the relay of the <c>jobs</c> topic tells the workflow again.
    /// </summary>
    private async Task TellWorkflowAsync()
    {
        if (StepFacts() is not { } notice || notice.ByWorkflow) return;
        try
        {
            await GrainFactory.GetGrain<IWorkflowControlGrain>(Job.WorkflowId!).StepEndedAsync(notice);
        }
        catch (Exception e)
        {
            LogWorkflowUnreached(e, Id, Job.WorkflowId!, Job.Status);
        }
    }

    private StepNotice? StepFacts() => Job.WorkflowId is null || Job.StepIndex is not { } step ? null : new StepNotice
    {
        JobId = Id, StepIndex = step, Generation = Job.StepGeneration, Status = Job.Status,
        Result = Job.Status == JobStatus.Completed ? Job.Result : null,
        Detail = Job.Status switch
        {
            JobStatus.Dead => Job.Error is { } error ? JsonSerializer.Serialize(error, ClusterJson.Options) : "",
            JobStatus.Cancelled => Job.CancelReason ?? "",
            _ => null,
        },
        ByWorkflow = Job.Status == JobStatus.Cancelled && Job.CancelledByWorkflow,
    };

    /// <summary>The workflow's requests interleave with the job's own: they act only between writes.</summary>
    private async Task AfterWriteInFlightAsync()
    {
        while (!_writing.IsCompleted)
            await _writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
    }

    /// <summary>Inserts <c>"inputs":…</c> as the first member of the payload object's text: no JSON tree is rebuilt.</summary>
    internal static string WithInputs(string payload, string inputs)
    {
        var open = payload.IndexOf('{', StringComparison.Ordinal);
        if (open < 0) return payload;
        var separator = payload.AsSpan(open + 1).TrimStart().StartsWith("}") ? "" : ",";
        return string.Concat(payload.AsSpan(0, open + 1), "\"inputs\":", inputs + separator, payload.AsSpan(open + 1));
    }

    // ---- transitions ------------------------------------------------------------------------------------

    /// <summary>
    /// A job read back after its silo died may be due already, or soon: its timer starts with the activation. A held
    /// job's stored expiry lags the renewals its earlier activation kept in memory by up to half a lease, and renewals
    /// sent while that activation's silo was dying reached nobody until the cluster declared it dead, which under load
    /// takes longer than a short lease; so did the assignment's word to its worker. So a hold whose stored lease has
    /// lapsed, or is about to, is not judged on it: when its worker is still there and takes the hold back, the lease
    /// starts again from this activation.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _storedLeaseExpiresAtMs = Job.LeaseExpiresAtMs;
        _storedStatus = Job.Status;
        var lease = (long)options.Lease.TotalMilliseconds;
        if (Job.IsHeld && Job.LeaseExpiresAtMs < NowMs + lease / 2 && await HolderTakesItBackAsync())
        {
            LogLeaseRestarted(Id, Job.WorkerId!, Job.LeaseExpiresAtMs - NowMs);
            ExtendLease(NowMs + lease);
            await WriteQuietlyAsync(cancellationToken);
            return;
        }
        ArmTimer();
    }

    private async Task<bool> HolderTakesItBackAsync()
    {
        if (Job.WorkerId is not { Length: > 0 } worker || Job.LeaseToken is not { } token) return false;
        try
        {
            return await GrainFactory.GetGrain<IWorkerControlGrain>(worker).TakeBackAsync(Id, token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogHolderUnasked(e, Id, worker);
            return false;
        }
    }

    /// <summary>
    /// Writes the record with its outbox, then arms the timer for the next moment time makes something due and tells
    /// the queue if the job became claimable or stopped being so. A workflow step that this write ended (completed,
    /// dead, cancelled) tells its workflow, after the write.
    /// </summary>
    /// <remarks>
    /// A job this write ended leaves memory once the request is over, rather than after Orleans' default idle age of
    /// 15 minutes: every job of the last 15 minutes kept alive grew the heap, and with it gen2 and background GC, by a
    /// grain per job. Nothing of an ended job lives only in memory (no lease, no timer), so a later read, retry or
    /// cancel reactivates it from storage. Only here, at the end of the job's own requests and after the workflow was
    /// told: the workflow's requests interleave with a job that waits for the workflow, which may call the job back,
    /// and a call to a deactivating job waits until its running requests end.
    /// </remarks>
    private async Task WriteAsync(CancellationToken cancellationToken = default)
    {
        var ended = Job.Status != _storedStatus && JobStatus.IsTerminal(Job.Status);
        await WriteQuietlyAsync(cancellationToken);
        if (!ended) return;
        await TellWorkflowAsync();
        if (JobStatus.IsTerminal(Job.Status)) DeactivateOnIdle();
    }

    /// <summary>Writes, then tells the worker whose hold the write ended and the queue, but not the workflow: for what the workflow itself asked.</summary>
    private async Task WriteQuietlyAsync(CancellationToken cancellationToken = default)
    {
        var released = _releasedHold;
        _releasedHold = null;
        _writing = state.WriteStateAsync(cancellationToken);
        await _writing;
        var before = _storedStatus;
        _storedStatus = Job.Status;
        _storedLeaseExpiresAtMs = Job.LeaseExpiresAtMs;
        ArmTimer();
        if (released is { } hold) await GrainFactory.GetGrain<IWorkerControlGrain>(hold.Worker).JobReleasedAsync(Id, hold.LeaseToken);
        await UpdateQueueAsync(before);
    }

    /// <summary>
    /// Enqueues a job that just became pending; removes one that stopped being pending by any path but a claim (a
    /// claim has taken it out already); and frees its tenant's slot when a claimed job stops being held. The write
    /// stands whatever the queue answers: a job missing from the queue is found again when the queue next rebuilds from
    /// <c>jobs:status:pending</c>, one left in it is dropped when its grain refuses the assignment, and the slots are
    /// counted afresh from the held jobs when it rebuilds.
    /// </summary>
    private async Task UpdateQueueAsync(string before)
    {
        var becamePending = Job.Status == JobStatus.Pending && before != JobStatus.Pending;
        var leftPending = before == JobStatus.Pending && Job.Status is not (JobStatus.Pending or JobStatus.Assigned);
        // Work of no tenant holds no slot, so it costs no call.
        var leftHeld = Job.Tenant is not null && JobStatus.IsHeld(before) && !Job.IsHeld;
        if (!becamePending && !leftPending && !leftHeld) return;
        var queue = GrainFactory.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default);
        try
        {
            if (leftHeld) await queue.ReleaseAsync(Id);
            if (becamePending) await queue.EnqueueAsync(new QueuedJob(Id, Job.Priority, Job.Sequence, Job.Requirements, Job.Tenant));
            else if (leftPending) await queue.RemoveAsync(Id);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogQueueUnreached(e, Id, Job.Status);
        }
    }

    /// <summary>What a job may not be created with, whatever path it came by.</summary>
    private static void Validate(JobSubmission submission)
    {
        if (submission.Priority is < JobLimits.MinPriority or > JobLimits.MaxPriority)
            throw new ClusterException(ErrorCodes.ValidationError, $"priority must be a whole number from {JobLimits.MinPriority} to {JobLimits.MaxPriority}");
    }

    private void ArmTimer()
    {
        _timer?.Dispose();
        _timer = null;
        var due = Job.Status == JobStatus.Delayed ? Job.RetryAtMs
            : Job.IsHeld ? Math.Min(Job.LeaseExpiresAtMs, Job.TimeoutMs > 0 ? Job.AssignedMs + Job.TimeoutMs : long.MaxValue)
            : 0;
        if (due == 0) return;
        var wait = TimeSpan.FromMilliseconds(Math.Max(due - NowMs, 0));
        _timer = this.RegisterGrainTimer(static (grain, _) => grain.WakeAsync(), this,
            new GrainTimerCreationOptions(wait, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    /// <summary>A failed attempt (or a lost lease, or a timeout): retried after an exponential backoff while retries are left, else dead.</summary>
    private JobFailureOutcome FailAttempt(JobError error, bool retryable, TimeSpan backoff)
    {
        var now = NowMs;
        Release();
        Job.RetryCount++;
        Job.Error = error;
        Job.FailedMs = now;
        Count("failed", now);
        var errorJson = JsonSerializer.Serialize(error, ClusterJson.Options);
        if (retryable && Job.RetryCount <= Job.MaxRetries)
        {
            var delay = TimeSpan.FromTicks(Math.Min(backoff.Ticks * (1L << Math.Min(Job.RetryCount - 1, 30)), MaxBackoff.Ticks));
            Job.RetryAtMs = now + (long)delay.TotalMilliseconds;
            Job.Progress = 0;
            Move(JobStatus.Delayed);
            Job.Outbox.SortedSetAdd("jobs:delayed", Id, Job.RetryAtMs);
            Publish("job_failed", ("error", errorJson), ("will_retry", "1"), ("retry_at", Job.RetryAtMs.ToString(CultureInfo.InvariantCulture)));
            return JobFailureOutcome.Retrying;
        }
        Move(JobStatus.Dead);
        Job.CompletedMs = now;
        Count("dead", now);
        Publish("job_failed", ("error", errorJson), ("will_retry", "0"));
        Publish("job_dead", ("error", errorJson));
        return JobFailureOutcome.Dead;
    }

    private void MarkCompleted(string resultJson)
    {
        var now = NowMs;
        Release();
        Move(JobStatus.Completed);
        if (Job.StartedMs == 0) Job.StartedMs = now;
        Job.Progress = 100;
        Job.Result = resultJson;
        Job.CompletedMs = now;
        Count("completed", now);
        Publish("job_completed", ("result", Job.Result));
    }

    /// <summary>Makes the job claimable again, with a <c>job_pending</c> event giving the reason.</summary>
    private void Requeue(string reason)
    {
        Job.Outbox.SortedSetRemove("jobs:delayed", Id);
        Move(JobStatus.Pending);
        Publish("job_pending", ("reason", reason));
    }

    /// <summary>Ends the worker's hold on the job: no lease, no deadline (only a held job has them in Redis).</summary>
    private void Release()
    {
        if (Job.IsHeld)
        {
            if (Job.WorkerId is { Length: > 0 } worker && Job.LeaseToken is { } token) _releasedHold = (worker, token);
            Job.Outbox.SortedSetRemove("jobs:leases", Id);
            if (Job.TimeoutMs > 0) Job.Outbox.SortedSetRemove("jobs:deadlines", Id);
        }
        Job.LeaseToken = null;
        Job.LeaseExpiresAtMs = 0;
    }

    private void Unqueue() => Job.Outbox.SortedSetRemove("jobs:delayed", Id);

    private void ExtendLease(long expiresAtMs)
    {
        Job.LeaseExpiresAtMs = expiresAtMs;
        Job.Outbox.SortedSetAdd("jobs:leases", Id, expiresAtMs);
    }

    /// <summary>Changes the status and moves the job between the status indexes in the same write.</summary>
    private void Move(string status)
    {
        if (Job.Status.Length > 0) Job.Outbox.SortedSetRemove("jobs:status:" + Job.Status, Id);
        Job.Status = status;
        Index("jobs:status:" + status);
    }

    private void Index(string key) => Job.Outbox.SortedSetAdd(key, Id, Job.Sequence);

    /// <summary>Counts the transition in the per-minute statistics (<c>stats:{kind}:{minute}</c>, kept two hours).</summary>
    private void Count(string kind, long nowMs) =>
        Job.Outbox.Increment(string.Create(CultureInfo.InvariantCulture, $"stats:{kind}:{nowMs / 60_000}"), 1, StatsKept);

    /// <summary>Refuses a caller that does not hold the lease; an empty token is seed 001's unfenced internal API.</summary>
    private void CheckLease(string leaseToken)
    {
        if (!Job.Exists) throw NotFound();
        if (leaseToken.Length > 0 && Job.LeaseToken != leaseToken)
            throw new ClusterException(ErrorCodes.StaleLease, $"the lease on job {Id} is no longer yours");
        if (!Job.IsHeld)
            throw new ClusterException(ErrorCodes.InvalidState, $"job {Id} is {Job.Status}, not assigned or running");
    }

    private ClusterException NotFound() => new(ErrorCodes.JobNotFound, "Job not found: " + Id);

    /// <summary>The event of a transition, with the fields every job event carries, to the topic and the job's history.</summary>
    private void Publish(string type, params ReadOnlySpan<(string Name, string Value)> extra)
    {
        var fields = new Dictionary<string, string>(10 + extra.Length, StringComparer.Ordinal) { ["job_id"] = Id, ["status"] = Job.Status, ["job_type"] = Job.Type };
        fields["priority"] = Job.Priority.ToString(CultureInfo.InvariantCulture);
        if (Job.WorkerId is { Length: > 0 } worker) fields["worker_id"] = worker;
        if (Job.MachineId is { Length: > 0 } machine) fields["machine_id"] = machine;
        if (Job.WorkflowId is { } workflow) fields["workflow_id"] = workflow;
        if (Job.StepIndex is { } step) fields["step_index"] = step.ToString(CultureInfo.InvariantCulture);
        fields["retry_count"] = Job.RetryCount.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in extra)
            if (value.Length > 0) fields[name] = value;
        var @event = new TopicEvent(type, fields);
        Job.Outbox.Publish(Topic, Id, @event, Streams.EventJson.ToJsonText(type, fields));
        if (Job.WorkflowId is not null && WorkflowStepRelayGrain.IsStepEnd(type))
            Job.Outbox.Publish(WorkflowStepRelayGrain.Topic, Id, @event);
        WebhookTargets.PublishIfWanted(Job.Outbox, Id, Job.WebhookUrl, Job.WebhookEvents, @event);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} is {Status} but the queue could not be told; it catches up when it next rebuilds")]
    private partial void LogQueueUnreached(Exception exception, string jobId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not tell worker {WorkerId} that it holds the job; the lease ends it unless the claim's answer reaches the worker")]
    private partial void LogWorkerUnreached(Exception exception, string jobId, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} came back with {LeaseLeftMs} ms of stored lease and worker {WorkerId} took the hold back: its lease starts again")]
    private partial void LogLeaseRestarted(string jobId, string workerId, long leaseLeftMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not ask worker {WorkerId} to take its hold back; its stored lease decides")]
    private partial void LogHolderUnasked(Exception exception, string jobId, string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not tell workflow {WorkflowId} that it is {Status}; the jobs topic's relay will")]
    private partial void LogWorkflowUnreached(Exception exception, string jobId, string workflowId, string status);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);


    private static JsonNode? Json(string? text) => text is null ? null : JsonNode.Parse(text);

    private static JobState View(JobRecord job) => new()
    {
        Id = job.Id,
        Tenant = job.Tenant,
        Type = job.Type,
        Status = job.Status,
        Priority = job.Priority,
        Payload = Json(job.Payload),
        Requirements = job.Requirements,
        Progress = job.Progress,
        ProgressMessage = job.ProgressMessage,
        Result = Json(job.Result),
        Error = job.Error,
        WorkerId = job.WorkerId,
        MachineId = job.MachineId,
        WorkflowId = job.WorkflowId,
        StepIndex = job.StepIndex,
        RetryCount = job.RetryCount,
        MaxRetries = job.MaxRetries,
        Attempts = job.Attempts,
        TimeoutMs = job.TimeoutMs,
        CreatedAt = Iso(job.CreatedMs),
        AssignedAt = Iso(job.AssignedMs),
        StartedAt = Iso(job.StartedMs),
        CompletedAt = Iso(job.CompletedMs),
        FailedAt = Iso(job.FailedMs),
        WebhookUrl = job.WebhookUrl,
    };
}
