using System.Collections.Concurrent;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Streams;
using Cluster.Silo.Hosting;

namespace Cluster.Silo.Workers;

/// <summary>
/// Pushes jobs to the workers connected to this silo. It wakes whenever a job becomes claimable anywhere
/// in the cluster (it follows the job event stream) and whenever one of its workers frees a slot, and then
/// claims for each worker with room until the queue has nothing that worker can serve. The queue grain hands
/// each job to one claim, so the dispatchers of many silos can compete for the same jobs safely.
/// </summary>
public sealed partial class JobDispatcher(GrainFactory grains, StreamTails streams, ILogger<JobDispatcher> logger) : BackgroundService
{
    // A safety net only: events wake the dispatcher at once; the tick catches a wake-up lost to a Redis failover and
    // hands out a hold a worker took back from a job whose silo died (WorkerGrain.TakeBackAsync).
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, WorkerSession> _sessions = new(StringComparer.Ordinal);
    private readonly WakeSignal _wake = new();

    public int ConnectedWorkers => _sessions.Count;

    public void Add(WorkerSession session)
    {
        _sessions[session.WorkerId] = session;
        Wake();
    }

    public void Remove(WorkerSession session) => _sessions.TryRemove(new KeyValuePair<string, WorkerSession>(session.WorkerId, session));

    public void Wake() => _wake.Wake();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = streams[EventStreams.Jobs].Subscribe(OnJobEvents);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(Tick, stoppingToken);
                Dispatch(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogDispatchFailed(e);
                await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken);
            }
        }
    }

    /// <summary>
    /// Starts a claim loop for every worker with room that has none running. Each worker claims on its own, so that a
    /// claim held up by a silo that just died (its answer waits until the cluster declares that silo dead) holds up no
    /// other worker's claims.
    /// </summary>
    private void Dispatch(CancellationToken cancellationToken)
    {
        foreach (var session in _sessions.Values)
            if (session.HasCapacity && session.WakeClaims())
                _ = ClaimWhileRoomAsync(session, cancellationToken);
    }

    /// <summary>Claims for one worker until it has its fill or nothing it can serve is left.</summary>
    private async Task ClaimWhileRoomAsync(WorkerSession session, CancellationToken cancellationToken)
    {
        do
        {
            try
            {
                while (session.HasCapacity && await ClaimOneAsync(session, cancellationToken)) { }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogClaimFailed(e, session.WorkerId);
                await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
            }
        } while (session.ClaimAgain());
    }

    /// <summary>Claims one job for a worker and pushes it; false when nothing it can serve is pending.</summary>
    private async Task<bool> ClaimOneAsync(WorkerSession session, CancellationToken cancellationToken)
    {
        var assignment = await grains.Jobs.ClaimAsync(session.WorkerId, session.Registration.MachineId, session.Capabilities, grains.Options.Lease, cancellationToken);
        if (assignment is null) return false;
        // A hold the cluster lost track of and hands out again: the worker runs it already.
        if (session.Held.TryGetValue(assignment.Job.Id, out var running) && running == assignment.LeaseToken) return true;
        session.Held[assignment.Job.Id] = assignment.LeaseToken;
        try
        {
            await session.SendAsync(new JobAssignedFrame
            {
                Type = WorkerFrameTypes.JobAssigned, Job = assignment.Job, LeaseToken = assignment.LeaseToken, LeaseExpiresAt = assignment.LeaseExpiresAtMs,
            }, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The worker is gone: its job goes back in line through the worker's unregistration.
            LogSendFailed(session.WorkerId, assignment.Job.Id, e.Message);
            return false;
        }
    }

    private void OnJobEvents(IReadOnlyList<StreamEvent> events)
    {
        var wake = false;
        foreach (var e in events)
        {
            switch (e.Type)
            {
                case "job_submitted" when e["status"] == "pending":
                case "job_pending":
                    wake = true;
                    break;
                case "job_cancelled" or "job_failed" when e["worker_id"] is { Length: > 0 } worker:
                    Revoke(worker, e.Fields["job_id"], e.Type == "job_cancelled" ? "cancelled" : "lease lost: " + (e["error"] ?? ""));
                    break;
            }
        }
        if (wake) Wake();
    }

    /// <summary>Tells a local worker to stop a job it still thinks it holds, when the cluster took it away.</summary>
    private void Revoke(string workerId, string jobId, string reason)
    {
        if (_sessions.TryGetValue(workerId, out var session) && session.Held.TryGetValue(jobId, out var lease))
            _ = RevokeUnlessHeldAgainAsync(session, jobId, lease, reason);
    }

    /// <summary>
    /// The event may be about an earlier attempt of a job the same worker holds again by now: a hold returned when the
    /// worker registered again after its silo died, handed straight back to it. Stopping the job then would stop the
    /// attempt the cluster waits for, and leave its lease renewed by heartbeats forever; so the job is asked first.
    /// </summary>
    private async Task RevokeUnlessHeldAgainAsync(WorkerSession session, string jobId, string lease, string reason)
    {
        try
        {
            var job = await grains.Job(jobId).GetAsync();
            if (job is not null && JobStatus.IsHeld(job.Status) && job.WorkerId == session.WorkerId) return;
            if (!session.Held.TryRemove(new KeyValuePair<string, string>(jobId, lease))) return; // assigned anew meanwhile
            await session.SendAsync(new JobRevokedFrame { Type = WorkerFrameTypes.JobRevoked, JobId = jobId, Reason = reason }, CancellationToken.None);
        }
        catch (Exception e)
        {
            LogRevokeFailed(session.WorkerId, jobId, e.Message);
        }
        Wake();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dispatching jobs failed")]
    private partial void LogDispatchFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A claim for worker {WorkerId} failed; its next wake-up claims again")]
    private partial void LogClaimFailed(Exception e, string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send to worker {WorkerId} about job {JobId}: {Reason}")]
    private partial void LogSendFailed(string workerId, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not revoke job {JobId} from worker {WorkerId}: {Reason}")]
    private partial void LogRevokeFailed(string workerId, string jobId, string reason);
}
