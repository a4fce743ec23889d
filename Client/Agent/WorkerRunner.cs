using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Cluster.Client.Api;
using Cluster.Client.Connectors;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Client.Agent;

/// <summary>
/// One worker of the agent, for one GPU: it connects and registers, runs each job the silo assigns through its
/// connector, reports progress, completes or fails it, and reconnects with backoff whenever the connection drops.
/// When <c>stopping</c> fires it takes no new job, lets running ones finish within the drain timeout, fails the
/// rest as retryable and closes the socket.
/// </summary>
public sealed class WorkerRunner(AgentSettings settings, int gpuIndex, IJobConnector connector, AgentLog log)
{
    /// <summary>Refusals that reconnecting will not cure: the agent stops instead of retrying forever.</summary>
    private static readonly HashSet<string> FatalCodes = new(StringComparer.Ordinal)
    {
        ErrorCodes.Unauthorized, ErrorCodes.Forbidden, ErrorCodes.ValidationError, ErrorCodes.MachineIdRequired, ErrorCodes.UnsupportedVersion,
    };

    public string WorkerId { get; } = AgentSettings.WorkerIdFor(settings.MachineId, gpuIndex);

    /// <summary>How often progress goes to the silo at most.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public Backoff Backoff { get; init; } = Backoff.Default();

    /// <summary>Runs until <paramref name="stopping"/> fires. Throws <see cref="WorkerFatalException"/> when the silo refuses this worker for good.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var silos = settings.Silos;
        var turn = 0;
        var busyAnswers = 0;
        while (!stopping.IsCancellationRequested)
        {
            var silo = silos[turn];
            var connection = new WorkerConnection(silo, settings.ApiKey)
            {
                HeartbeatFailed = e => log.Warn(WorkerId, $"heartbeat failed ({e.Message}); reconnecting"),
            };
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    var registered = await connection.ConnectAsync(Registration(), stopping).ConfigureAwait(false);
                    Backoff.Reset();
                    busyAnswers = 0;
                    var returned = registered.ReturnedJobs > 0 ? $", {registered.ReturnedJobs} job(s) it held returned to the queue" : "";
                    log.Info(WorkerId, $"registered with {silo} (gpu {gpuIndex + 1}/{settings.GpuCount}, heartbeat {registered.HeartbeatMs} ms{returned})");
                    await ServeAsync(connection, stopping).ConfigureAwait(false);
                    if (stopping.IsCancellationRequested)
                    {
                        await connection.CloseAsync(CancellationToken.None).ConfigureAwait(false);
                        log.Info(WorkerId, "stopped");
                        return;
                    }
                    log.Warn(WorkerId, "lost the connection to the silo");
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    log.Info(WorkerId, "stopped");
                    return;
                }
                catch (ClusterApiException e) when (FatalCodes.Contains(e.Code))
                {
                    throw new WorkerFatalException($"{WorkerId}: the silo refused the worker: {e.Message} ({e.Code})");
                }
                catch (WorkerProtocolException e) when (FatalCodes.Contains(e.Code))
                {
                    throw new WorkerFatalException($"{WorkerId}: the silo refused the registration: {e.Message} ({e.Code})");
                }
                catch (Exception e) when (IsClusterBusy(e) && busyAnswers < MaxBusyAnswers)
                {
                    // The silo is up; the cluster is finding a dead silo's grains again, which takes seconds. Moving on
                    // to another silo (perhaps the dead one) or backing off further would only delay the registration;
                    // past a dozen such answers, the silo is treated as unreachable.
                    busyAnswers++;
                    log.Warn(WorkerId, $"the silo at {silo} cannot register the worker yet: {e.Message}");
                    if (!await DelayAsync(Backoff.Steady(), stopping).ConfigureAwait(false)) return;
                    continue;
                }
                catch (Exception e) when (e is WebSocketException or WorkerConnectionClosedException or WorkerProtocolException
                    or TimeoutException or HttpRequestException or ClusterApiException)
                {
                    log.Warn(WorkerId, $"cannot reach the silo at {silo}: {e.Message}");
                }
            }

            // Any silo serves any worker: after a drop, try the next one the agent knows.
            turn = (turn + 1) % silos.Count;
            busyAnswers = 0;
            if (!await DelayAsync(Backoff.Next(), stopping).ConfigureAwait(false)) return;
        }
    }

    private const int MaxBusyAnswers = 12;

    private static bool IsClusterBusy(Exception e) =>
        e is WorkerProtocolException { Code: ErrorCodes.Unavailable } or ClusterApiException { Code: ErrorCodes.Unavailable };

    /// <summary>Waits <paramref name="delay"/>; false (and logged) when the agent is stopping meanwhile.</summary>
    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        log.Info(WorkerId, $"reconnecting in {delay.TotalSeconds:0.0} s");
        try
        {
            await Task.Delay(delay, stopping).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            log.Info(WorkerId, "stopped");
            return false;
        }
    }

    private RegisterFrame Registration() => new()
    {
        Type = WorkerFrameTypes.Register,
        WorkerId = WorkerId,
        MachineId = settings.MachineId,
        Host = Environment.MachineName,
        GpuCount = settings.GpuCount,
        GpuIndex = gpuIndex,
        Concurrency = settings.Concurrency,
        Capabilities = new WorkerCapabilities
        {
            GpuMemory = settings.GpuMemory,
            ModelTypes = settings.ModelTypes,
            Capabilities = settings.Capabilities,
            PoolType = settings.Pool,
        },
    };

    /// <summary>Handles the silo's pushes until the connection ends, or until stopping and every job is done.</summary>
    private async Task ServeAsync(WorkerConnection connection, CancellationToken stopping)
    {
        var running = new ConcurrentDictionary<string, RunningJob>(StringComparer.Ordinal);
        var work = new List<Task>();
        using var served = new CancellationTokenSource();
        using var drainDeadline = new CancellationTokenSource();

        void EndIfDrained()
        {
            if (stopping.IsCancellationRequested && running.IsEmpty && !served.IsCancellationRequested) served.Cancel();
        }

        using var onStop = stopping.Register(() =>
        {
            if (!running.IsEmpty)
                log.Info(WorkerId, $"stopping: taking no new jobs, waiting up to {settings.DrainTimeout.TotalSeconds:0} s for {running.Count} running job(s)");
            drainDeadline.CancelAfter(settings.DrainTimeout);
            EndIfDrained();
        });
        using var onDrainDeadline = drainDeadline.Token.Register(() =>
        {
            foreach (var job in running.Values) job.Stop(JobStopReason.Shutdown);
        });

        try
        {
            await foreach (var frame in connection.Pushes.ReadAllAsync(served.Token).ConfigureAwait(false))
            {
                work.RemoveAll(task => task.IsCompleted);
                switch (frame)
                {
                    case JobAssignedFrame assigned when stopping.IsCancellationRequested:
                        work.Add(FailQuietlyAsync(connection, assigned.Job.Id, () => assigned.LeaseToken,
                            new JobError("WORKER_STOPPING", $"Worker {WorkerId} is stopping and took no new job."), retryable: true));
                        break;
                    case JobAssignedFrame assigned:
                        if (running.TryGetValue(assigned.Job.Id, out var already))
                        {
                            if (already.LeaseToken != assigned.LeaseToken)
                                log.Warn(WorkerId, $"job {assigned.Job.Id} was assigned again while it runs; it goes on under the new lease");
                            already.LeaseToken = assigned.LeaseToken;
                            break;
                        }
                        var job = new RunningJob(assigned.Job.Id, assigned.LeaseToken);
                        running[job.JobId] = job;
                        work.Add(Task.Run(async () =>
                        {
                            try
                            {
                                await RunJobAsync(connection, assigned, job).ConfigureAwait(false);
                            }
                            finally
                            {
                                running.TryRemove(job.JobId, out _);
                                job.Dispose();
                                EndIfDrained();
                            }
                        }, CancellationToken.None));
                        break;
                    case JobRevokedFrame revoked:
                        if (running.TryGetValue(revoked.JobId, out var held)) held.Stop(JobStopReason.Revoked);
                        log.Info(WorkerId, $"job {revoked.JobId} revoked ({revoked.Reason})");
                        break;
                    case ErrorFrame error:
                        log.Warn(WorkerId, $"the silo reported {error.Error.Code}: {error.Error.Message}");
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (served.IsCancellationRequested)
        {
            // Stopping, and nothing runs any more.
        }

        foreach (var job in running.Values) job.Stop(JobStopReason.ConnectionLost);
        await Task.WhenAll(work).ConfigureAwait(false);
    }

    private async Task RunJobAsync(WorkerConnection connection, JobAssignedFrame assigned, RunningJob running)
    {
        var job = assigned.Job with { WorkerId = assigned.Job.WorkerId ?? WorkerId };
        var clock = Stopwatch.StartNew();
        log.Info(WorkerId, $"job {job.Id} ({job.Type}) started{(job.RetryCount > 0 ? $", retry {job.RetryCount}" : "")}");
        var progress = new ProgressForwarder(
            (value, message) => connection.ReportProgressAsync(job.Id, running.LeaseToken, value, message),
            ProgressInterval,
            e => log.Warn(WorkerId, $"job {job.Id}: progress not delivered: {e.Message}"));

        JsonNode? result;
        try
        {
            result = await connector.RunAsync(job, progress, running.Token).ConfigureAwait(false);
            await progress.FlushAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.StopReason is { } reason)
        {
            await progress.FlushAsync(sendPending: false).ConfigureAwait(false);
            switch (reason)
            {
                case JobStopReason.Revoked:
                    log.Info(WorkerId, $"job {job.Id} stopped: revoked by the silo");
                    break;
                case JobStopReason.ConnectionLost:
                    log.Warn(WorkerId, $"job {job.Id} abandoned: the connection dropped and its lease with it; the silo puts it back in the queue");
                    break;
                case JobStopReason.Shutdown:
                    await FailQuietlyAsync(connection, job.Id, () => running.LeaseToken,
                        new JobError("WORKER_STOPPING", $"Worker {WorkerId} stopped before the job finished."), retryable: true).ConfigureAwait(false);
                    break;
            }
            return;
        }
        catch (JobFailedException e)
        {
            await progress.FlushAsync(sendPending: false).ConfigureAwait(false);
            await FailQuietlyAsync(connection, job.Id, () => running.LeaseToken, new JobError(e.Code, e.Message), e.Retryable).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A connector bug must fail the job, not the worker.
            await progress.FlushAsync(sendPending: false).ConfigureAwait(false);
            await FailQuietlyAsync(connection, job.Id, () => running.LeaseToken, new JobError("CONNECTOR_ERROR", $"{e.GetType().Name}: {e.Message}"), retryable: true).ConfigureAwait(false);
            return;
        }

        try
        {
            await UnderNewestLeaseAsync(() => running.LeaseToken, lease => connection.CompleteAsync(job.Id, lease, result)).ConfigureAwait(false);
            log.Info(WorkerId, $"job {job.Id} completed in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        catch (WorkerProtocolException e) when (e.Code == "FRAME_TOO_LARGE")
        {
            await FailQuietlyAsync(connection, job.Id, () => running.LeaseToken, new JobError("RESULT_TOO_LARGE", e.Message), retryable: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WorkerProtocolException or WorkerConnectionClosedException or TimeoutException)
        {
            log.Warn(WorkerId, $"job {job.Id} finished but its completion was not accepted: {e.Message}");
        }
    }

    private async Task FailQuietlyAsync(WorkerConnection connection, string jobId, Func<string> lease, JobError error, bool retryable)
    {
        try
        {
            await UnderNewestLeaseAsync(lease, token => connection.FailAsync(jobId, token, error, retryable)).ConfigureAwait(false);
            log.Warn(WorkerId, $"job {jobId} failed: {error.Code}: {error.Message}{(retryable ? "" : " (not retryable)")}");
        }
        catch (Exception e) when (e is WorkerProtocolException or WorkerConnectionClosedException or TimeoutException)
        {
            log.Warn(WorkerId, $"job {jobId} failed ({error.Code}) but the silo did not take the failure: {e.Message}");
        }
    }

    /// <summary>
    /// Sends a job's outcome under its newest lease: if the silo refuses it and the job was assigned to this worker
    /// again meanwhile, under a new lease, it is sent again under that one.
    /// </summary>
    private static async Task UnderNewestLeaseAsync(Func<string> lease, Func<string, Task> send)
    {
        while (true)
        {
            var token = lease();
            try
            {
                await send(token).ConfigureAwait(false);
                return;
            }
            catch (WorkerProtocolException) when (lease() != token)
            {
            }
        }
    }
}

/// <summary>The silo refuses this worker in a way reconnecting cannot fix (a bad key, a refused registration).</summary>
public sealed class WorkerFatalException(string message) : Exception(message);
