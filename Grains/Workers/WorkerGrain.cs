using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using StackExchange.Redis;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Workers;

/// <summary>
/// One worker on the Orleans runtime: its registration, the jobs it holds (each with its lease token) and its
/// heartbeats. The job grains are the truth of every hold: they tell the worker when one starts and ends, and a
/// heartbeat renews each lease through its job, dropping the holds the job no longer grants. Heartbeats are kept in
/// memory and written, with the worker's score in <c>workers:heartbeats</c>, at most every third of the worker
/// timeout: the sweeper reads that set to find workers gone silent, also when their silo died. So an activation that
/// follows one lost with its silo may not know every hold: it asks the jobs leased under this worker's name before it
/// claims, returns or gives up its jobs. It lives on the silo that registers it, the one with the worker's connection,
/// so that it dies only with that connection's silo rather than with another.
/// </summary>
[PreferLocalPlacement]
public sealed partial class WorkerGrain(
    [PersistentState("worker", JobGrain.Storage)] IPersistentState<WorkerRecord> state,
    ClusterGrainOptions options, IConnectionMultiplexer redis, ILogger<WorkerGrain> logger) : Grain, IWorkerGrain, IWorkerControlGrain
{
    public const string Topic = "workers";
    private long _storedHeartbeatMs;
    /// <summary>Completed when a job tells this worker of its hold while a claim of it waits for the queue's answer.</summary>
    private TaskCompletionSource? _assigned;
    /// <summary>The claim last sent to the queue; no other is sent while it is in flight, so claims never take more jobs than the worker runs.</summary>
    private Task _claim = Task.CompletedTask;
    /// <summary>Held jobs whose claim has not answered this grain: handed out by the next claim.</summary>
    private readonly HashSet<string> _unanswered = new(StringComparer.Ordinal);
    /// <summary>Whether this activation has looked for holds its stored record may lack.</summary>
    private bool _holdsRecovered;

    private WorkerRecord Worker => state.State;
    private string Id => this.GetPrimaryKeyString();
    private long TimeoutMs => (long)options.WorkerTimeout.TotalMilliseconds;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _storedHeartbeatMs = Worker.LastHeartbeatMs;
        _holdsRecovered = !Worker.Registered || Worker.Offline;
        return Task.CompletedTask;
    }

    /// <summary>An online worker leaving memory stores its last heartbeat and holds, which the next activation starts from.</summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (Worker.Registered && !Worker.Offline) await WriteAsync(cancellationToken);
    }

    // ---- what the worker does ---------------------------------------------------------------------------

    /// <summary>Re-registering (a restart) keeps the machine association and returns the jobs it held as failed attempts.</summary>
    public async Task<int> RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (Id.Length == 0) throw new ClusterException(ErrorCodes.ValidationError, "worker_id is required");
        var machineId = registration.MachineId ?? "";
        if (machineId is "" or "unknown")
            throw new ClusterException(ErrorCodes.MachineIdRequired, $"worker {Id} must name its machine_id (got \"{machineId}\")");

        if (Worker.Registered && Worker.MachineId != machineId)
            await GrainFactory.GetGrain<IMachineControlGrain>(Worker.MachineId).RemoveWorkerAsync(Id);
        var returned = await ReturnHeldAsync("WORKER_RESTARTED", $"worker {Id} registered again while holding the job");
        await GrainFactory.GetGrain<IMachineControlGrain>(machineId).AddWorkerAsync(Id, registration.Host, registration.GpuCount);

        var now = NowMs;
        Worker.MachineId = machineId;
        Worker.Status = WorkerStatus.Idle;
        Worker.Concurrency = Math.Max(registration.Concurrency, 1);
        Worker.Capabilities = registration.Capabilities;
        Worker.GpuIndex = registration.GpuIndex;
        Worker.SiloId = registration.SiloId;
        Worker.RegisteredMs = now;
        Worker.LastHeartbeatMs = now;
        Worker.OfflineMs = 0;
        Worker.CurrentJobId = null;
        Worker.Outbox.SortedSetAdd("workers", Id, 0);
        Publish("worker_registered", ("machine_id", machineId), ("status", WorkerStatus.Idle));
        await WriteAsync(cancellationToken);
        return returned;
    }

    /// <summary>
    /// Renews the worker and each lease it holds; returns the jobs it still holds. A hold the connection names and this
    /// activation does not know (taken after the last write, and lost with the silo of an earlier activation) is
    /// taken back, for as long as its job grants the lease: renewing asks the job.
    /// </summary>
    public async Task<IReadOnlyList<string>> HeartbeatAsync(TimeSpan lease, IReadOnlyDictionary<string, string>? held = null, CancellationToken cancellationToken = default)
    {
        CheckRegistered();
        if (Worker.Offline) throw new ClusterException(ErrorCodes.WorkerOffline, $"worker {Id} was declared offline; register again");
        Worker.LastHeartbeatMs = NowMs;
        if (held is not null)
            foreach (var (jobId, leaseToken) in held)
                Worker.Held.TryAdd(jobId, leaseToken);
        if (Worker.Held.Count > 0) await RenewHeldAsync(lease);
        if (Worker.LastHeartbeatMs - _storedHeartbeatMs >= TimeoutMs / 3) await WriteAsync(cancellationToken);
        return [.. Worker.Held.Keys];
    }

    public Task UnregisterAsync(string reason, CancellationToken cancellationToken = default)
    {
        CheckRegistered();
        return GoOfflineAsync(string.IsNullOrEmpty(reason) ? "disconnected" : reason);
    }

    public Task<WorkerState?> GetAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Worker.Registered ? View() : null);

    // ---- what the cluster's grains do -------------------------------------------------------------------

    /// <summary>
    /// A hold whose claim lost its answer is handed out first. Otherwise one claim at a time goes to the queue. Its
    /// answer is awaited for half the lease, and only a fifth of the lease more once the job has told this worker of
    /// its hold (<see cref="JobHeldAsync"/>, before the job answers the queue): after a silo died, an answer that must
    /// come back through it, and even the job's word to this grain, wait until the cluster has declared it dead and
    /// found its grains again, while the job waits for its worker under a running lease. A claim that is not answered,
    /// or fails, leaves its hold known here (the job told of it) or written in Redis with the job: it is looked for
    /// there, and a claim still in flight ends in a hold the next claim hands out.
    /// </summary>
    public async Task<JobAssignment?> ClaimAsync(string machineId, WorkerCapabilities capabilities, TimeSpan lease)
    {
        var queue = GrainFactory.GetGrain<IJobQueueGrain>(IJobQueueGrain.Default);
        if (!Worker.Registered) return await queue.ClaimAsync(Id, machineId, capabilities, lease);
        if (Worker.Offline) return null;
        if (!_holdsRecovered) await RecoverHoldsAsync();
        if (await TakeUnansweredAsync() is { } held) return held;
        if (Worker.Held.Count >= Worker.Concurrency || !_claim.IsCompleted) return null;
        var assigned = _assigned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var claim = queue.ClaimAsync(Id, machineId.Length > 0 ? machineId : Worker.MachineId, capabilities, lease);
        _claim = claim;
        try
        {
            await ((Task)Task.WhenAny(claim, assigned.Task)).WaitAsync(lease / 2)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            if (!claim.IsCompleted && assigned.Task.IsCompleted)
                await ((Task)claim).WaitAsync(lease / 5).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            if (claim.IsCompletedSuccessfully)
            {
                if (claim.Result is { } assignment)
                {
                    _unanswered.Remove(assignment.Job.Id);
                    Hold(assignment.Job.Id, assignment.LeaseToken);
                }
                return claim.Result;
            }
        }
        finally
        {
            _assigned = null;
        }
        _ = claim.ContinueWith(static c => c.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        LogClaimUnanswered(Id, claim.IsFaulted ? claim.Exception.GetBaseException().Message : "no answer in time", assigned.Task.IsCompleted);
        if (!assigned.Task.IsCompleted) await RecoverHoldsAsync();
        if (await TakeUnansweredAsync() is { } recovered) return recovered;
        if (claim.IsFaulted) await claim; // nothing was lost: the caller learns why the claim failed
        return null;
    }

    public Task<bool> JobHeldAsync(string jobId, string leaseToken)
    {
        if (!Worker.Registered) return Task.FromResult(true);
        if (Worker.Offline) return Task.FromResult(false);
        HoldUnanswered(jobId, leaseToken);
        return Task.FromResult(true);
    }

    public Task JobReleasedAsync(string jobId, string leaseToken)
    {
        if (Worker.Held.TryGetValue(jobId, out var held) && held == leaseToken)
        {
            Worker.Held.Remove(jobId);
            _unanswered.Remove(jobId);
            Worker.CurrentJobId = null;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Held again, or still: either way the next claim hands the hold out, since the connection may never have been
    /// given it (a connection that runs it already does not run it twice).
    /// </summary>
    public Task<bool> TakeBackAsync(string jobId, string leaseToken)
    {
        if (!Worker.Registered || Worker.Offline || NowMs - Worker.LastHeartbeatMs >= TimeoutMs) return Task.FromResult(false);
        HoldUnanswered(jobId, leaseToken);
        return Task.FromResult(true);
    }

    /// <summary>A hold the next claim hands out; a claim waiting for the queue's answer learns that a job told of its hold.</summary>
    private void HoldUnanswered(string jobId, string leaseToken)
    {
        Hold(jobId, leaseToken);
        _unanswered.Add(jobId);
        _assigned?.TrySetResult();
    }

    /// <summary>
    /// A job this worker holds whose claim has not answered (its answer lost, or not back yet), as its assignment. A job
    /// that cannot be asked now stays unanswered for the next claim.
    /// </summary>
    private async Task<JobAssignment?> TakeUnansweredAsync()
    {
        if (_unanswered.Count == 0) return null;
        foreach (var jobId in _unanswered.ToArray())
        {
            if (!Worker.Held.TryGetValue(jobId, out var token))
            {
                _unanswered.Remove(jobId);
                continue;
            }
            var (answered, assignment) = await AskHoldAsync(jobId);
            if (!answered) continue;
            _unanswered.Remove(jobId);
            if (assignment is not null)
            {
                Worker.Held[jobId] = assignment.LeaseToken;
                return assignment;
            }
            if (Worker.Held.TryGetValue(jobId, out var now) && now == token) Worker.Held.Remove(jobId);
        }
        return null;
    }

    /// <summary>
    /// The holds this activation does not know: the jobs ever assigned to this worker (<c>jobs:worker:{id}</c>) that
    /// hold a lease now (<c>jobs:leases</c>), each asked whether this worker holds it. The next claim hands each found
    /// out; a connection that runs it already does not run it twice.
    /// </summary>
    /// <remarks>
    /// A job that cannot be asked (its silo died and the cluster has not declared it dead yet) does not stop the others
    /// from being found; the next claim asks again, since that job may hold this worker under a running lease.
    /// </remarks>
    private async Task RecoverHoldsAsync()
    {
        var leased = await redis.GetDatabase().SortedSetCombineAsync(SetOperation.Intersect, ["jobs:worker:" + Id, "jobs:leases"]);
        var unknown = leased.Select(j => j.ToString()).Where(j => !Worker.Held.ContainsKey(j)).ToArray();
        var asked = await Task.WhenAll(unknown.Select(AskHoldAsync));
        _holdsRecovered = asked.All(a => a.Answered);
        foreach (var (_, hold) in asked)
        {
            if (hold is null || Worker.Held.ContainsKey(hold.Job.Id)) continue;
            Worker.Held[hold.Job.Id] = hold.LeaseToken;
            _unanswered.Add(hold.Job.Id);
        }
    }

    /// <summary>
    /// Whether the job grants this worker a hold, and which. Bounded by a fifth of the lease: a job on a silo that died
    /// answers only once the cluster has declared that silo dead, and a claim waiting for it would keep this worker's
    /// other holds from being handed out.
    /// </summary>
    private async Task<(bool Answered, JobAssignment? Hold)> AskHoldAsync(string jobId)
    {
        try
        {
            return (true, await GrainFactory.GetGrain<IJobControlGrain>(jobId).HeldByAsync(Id).WaitAsync(options.Lease / 5));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogHoldUnasked(Id, jobId, e.Message);
            return (false, null);
        }
    }

    public async Task<bool> LapseAsync()
    {
        if (!Worker.Registered || Worker.Offline) return false;
        if (NowMs - Worker.LastHeartbeatMs < TimeoutMs)
        {
            await WriteAsync(); // the stored heartbeat lagged the one in memory
            return false;
        }
        await GoOfflineAsync("heartbeat lapsed");
        return true;
    }

    // ---- transitions ------------------------------------------------------------------------------------

    private async Task GoOfflineAsync(string reason)
    {
        await ReturnHeldAsync("WORKER_LOST", $"worker {Id} went offline: {reason}");
        Worker.Status = WorkerStatus.Offline;
        Worker.OfflineMs = NowMs;
        Worker.CurrentJobId = null;
        Publish("worker_offline", ("machine_id", Worker.MachineId), ("reason", reason));
        await WriteAsync();
    }

    /// <summary>Hands back every job the worker holds, each as a failed attempt; returns how many its job took back.</summary>
    private async Task<int> ReturnHeldAsync(string code, string message)
    {
        if (!_holdsRecovered) await RecoverHoldsAsync();
        if (Worker.Held.Count == 0) return 0;
        var error = new JobError(code, message);
        var held = Worker.Held.ToArray();
        Worker.Held.Clear();
        _unanswered.Clear();
        var returned = await Task.WhenAll(held.Select(h => GrainFactory.GetGrain<IJobControlGrain>(h.Key).FailLeaseAsync(h.Value, error)));
        return returned.Count(r => r);
    }

    /// <summary>Renews every held lease through its job; a job that no longer grants the lease is no longer held.</summary>
    private async Task RenewHeldAsync(TimeSpan lease)
    {
        var held = Worker.Held.ToArray();
        var renewed = await Task.WhenAll(held.Select(h => GrainFactory.GetGrain<IJobControlGrain>(h.Key).RenewLeaseAsync(h.Value, lease)));
        for (var i = 0; i < held.Length; i++)
            if (!renewed[i] && Worker.Held.TryGetValue(held[i].Key, out var token) && token == held[i].Value)
                Worker.Held.Remove(held[i].Key);
    }

    private void Hold(string jobId, string leaseToken)
    {
        Worker.Held[jobId] = leaseToken;
        Worker.CurrentJobId = jobId;
    }

    /// <summary>
    /// Writes the record with its outbox. Online, its score in <c>workers:heartbeats</c> is its last heartbeat (what
    /// the sweeper reads); offline, it has none.
    /// </summary>
    private async Task WriteAsync(CancellationToken cancellationToken = default)
    {
        if (Worker.Offline) Worker.Outbox.SortedSetRemove("workers:heartbeats", Id);
        else Worker.Outbox.SortedSetAdd("workers:heartbeats", Id, Worker.LastHeartbeatMs);
        await state.WriteStateAsync(cancellationToken);
        _storedHeartbeatMs = Worker.LastHeartbeatMs;
    }

    private void CheckRegistered()
    {
        if (!Worker.Registered) throw new ClusterException(ErrorCodes.WorkerNotFound, "Worker not found: " + Id);
    }

    /// <summary>An event on the <c>workers</c> topic and the fields every worker event carries.</summary>
    private void Publish(string type, params ReadOnlySpan<(string Name, string Value)> extra)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal) { ["worker_id"] = Id };
        foreach (var (name, value) in extra)
            if (value.Length > 0) fields[name] = value;
        Worker.Outbox.Publish(Topic, Id, new TopicEvent(type, fields));
    }

    private WorkerState View() => new()
    {
        Id = Id,
        MachineId = Worker.MachineId,
        Status = Worker.Offline ? WorkerStatus.Offline : Worker.Held.Count > 0 ? WorkerStatus.Busy : WorkerStatus.Idle,
        Concurrency = Worker.Concurrency,
        Active = Worker.Held.Count,
        CurrentJobId = Worker.CurrentJobId,
        Capabilities = Worker.Capabilities,
        GpuIndex = Worker.GpuIndex,
        RegisteredAt = Iso(Worker.RegisteredMs),
        LastHeartbeat = Iso(Worker.LastHeartbeatMs),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId}'s claim was not answered ({Reason}; a job told of its hold: {Told}); looking for the hold")]
    private partial void LogClaimUnanswered(string workerId, string reason, bool told);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not ask job {JobId} whether it holds it ({Reason}); its next claim asks again")]
    private partial void LogHoldUnasked(string workerId, string jobId, string reason);
}
