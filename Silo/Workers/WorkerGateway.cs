using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Cluster.Grains;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Silo.Api;
using Cluster.Silo.Auth;
using Cluster.Silo.Protocol;
using Orleans.Runtime;

namespace Cluster.Silo.Workers;

/// <summary>The worker protocol on <c>/ws/worker</c> (docs/protocol.md): one WebSocket per worker.</summary>
public sealed partial class WorkerGateway(GrainFactory grains, JobDispatcher dispatcher, IHostApplicationLifetime lifetime, ILogger<WorkerGateway> logger)
{
    public const int MaxFrameBytes = 1024 * 1024;

    public static void Map(IEndpointRouteBuilder app) =>
        app.Map("/ws/worker", (HttpContext context, WorkerGateway gateway) => gateway.AcceptAsync(context)).RequireScope(ApiScopes.Worker);

    public async Task AcceptAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { success = false, error = new { code = ErrorCodes.ValidationError, message = "This endpoint speaks WebSocket only" } });
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        // A stopping silo lets its workers go at once, so they reconnect to another silo instead of waiting out a heartbeat.
        using var goingAway = SocketClosing.GoAwayWhenStopping(socket, lifetime.ApplicationStopping);
        await RunAsync(socket, context.RequestAborted);
    }

    private async Task RunAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        WorkerSession? session = null;
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var (kind, tooLarge) = await FrameSocket.ReceiveAsync(socket, buffer, MaxFrameBytes, cancellationToken);
                if (kind == WebSocketMessageType.Close) break;
                var reply = tooLarge
                    ? Error(null, "FRAME_TOO_LARGE", $"Frames are limited to {MaxFrameBytes} bytes")
                    : await HandleAsync(socket, buffer.WrittenMemory, session, s => session = s, cancellationToken);
                if (reply is not null) await SendAsync(socket, session, reply, cancellationToken);
            }
        }
        catch (WebSocketException e) when (SocketClosing.IsRefusal(e))
        {
            LogRefused(session?.WorkerId ?? "(not registered)");
            await SocketClosing.LingerAfterRefusalAsync(cancellationToken);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // the worker went away; what it held goes back in line below
        }
        finally
        {
            if (session is not null)
            {
                dispatcher.Remove(session);
                try
                {
                    await grains.Worker(session.WorkerId).UnregisterAsync(lifetime.ApplicationStopping.IsCancellationRequested ? "silo stopping" : "disconnected", CancellationToken.None);
                }
                catch (ClusterException)
                {
                    // already offline
                }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or OrleansException or TimeoutException)
                {
                    LogUnregisterFailed(session.WorkerId, e.Message);
                }
                LogDisconnected(session.WorkerId, session.Held.Count);
            }
            await SocketClosing.CloseAsync(socket, lifetime.ApplicationStopping.IsCancellationRequested);
        }
    }

    private async Task<WorkerFrame?> HandleAsync(WebSocket socket, ReadOnlyMemory<byte> bytes, WorkerSession? session, Action<WorkerSession> registered, CancellationToken ct)
    {
        if (FrameSocket.ReadEnvelope(bytes.Span, out var envelope) is { } refused) return refused;
        try
        {
            switch (envelope.Type)
            {
                case WorkerFrameTypes.Register:
                    var registration = Read<RegisterFrame>(bytes);
                    var (next, returned) = await RegisterAsync(socket, registration, session, ct);
                    registered(next);
                    await next.SendAsync(new RegisteredFrame
                    {
                        Type = WorkerFrameTypes.Registered, Ack = envelope.Id, WorkerId = next.WorkerId,
                        LeaseMs = (long)grains.Options.Lease.TotalMilliseconds, HeartbeatMs = (long)(grains.Options.Lease / 3).TotalMilliseconds,
                        ReturnedJobs = returned,
                    }, ct);
                    dispatcher.Add(next);
                    return null;
                case WorkerFrameTypes.Heartbeat when session is not null:
                    var running = session.Held.IsEmpty ? null : new Dictionary<string, string>(session.Held, StringComparer.Ordinal);
                    var held = await FailoverRetry.CallAsync((Worker: grains.Worker(session.WorkerId), grains.Options.Lease, running),
                        static (s, ct) => s.Worker.HeartbeatAsync(s.Lease, s.running, ct), ct);
                    return new AckFrame { Type = WorkerFrameTypes.Ack, Ack = envelope.Id, Jobs = held };
                case WorkerFrameTypes.Progress when session is not null:
                    var progress = Read<ProgressFrame>(bytes);
                    CheckJob(progress.JobId, progress.LeaseToken);
                    await FailoverRetry.CallAsync((Job: grains.Job(progress.JobId), Frame: progress),
                        static (s, ct) => s.Job.ReportProgressAsync(s.Frame.LeaseToken, s.Frame.Progress, Bounded(s.Frame.Message, 1000), ct), ct);
                    return Ack(envelope.Id);
                case WorkerFrameTypes.Complete when session is not null:
                    var complete = Read<CompleteFrame>(bytes);
                    CheckJob(complete.JobId, complete.LeaseToken);
                    session.Held.TryRemove(complete.JobId, out _);
                    await FailoverRetry.CallAsync((Job: grains.Job(complete.JobId), Frame: complete),
                        static (s, ct) => s.Job.CompleteAsync(s.Frame.LeaseToken, s.Frame.Result, ct), ct);
                    dispatcher.Wake();
                    return Ack(envelope.Id);
                case WorkerFrameTypes.Fail when session is not null:
                    var fail = Read<FailFrame>(bytes);
                    CheckJob(fail.JobId, fail.LeaseToken);
                    session.Held.TryRemove(fail.JobId, out _);
                    var error = new JobError(Bounded(fail.Error.Code, 64) ?? "ERROR", Bounded(fail.Error.Message, 4000) ?? "");
                    await FailoverRetry.CallAsync((Job: grains.Job(fail.JobId), Frame: fail, Error: error),
                        static (s, ct) => s.Job.FailAsync(s.Frame.LeaseToken, s.Error, s.Frame.Retryable, ct), ct);
                    dispatcher.Wake();
                    return Ack(envelope.Id);
                case WorkerFrameTypes.Heartbeat or WorkerFrameTypes.Progress or WorkerFrameTypes.Complete or WorkerFrameTypes.Fail:
                    return Error(envelope.Id, "NOT_REGISTERED", "Send a register frame first");
                default:
                    return Error(envelope.Id, "UNKNOWN_TYPE", $"Unknown frame type '{envelope.Type}'");
            }
        }
        catch (ClusterException e)
        {
            return Error(envelope.Id, e.Code, e.Message);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            // The cluster could not answer in time (a silo died and has not been replaced yet): the frame may be sent again.
            LogUnanswered(envelope.Type, session?.WorkerId ?? "(not registered)", e.Message);
            return Error(envelope.Id, ApiError.Unavailable, $"The cluster could not answer this '{envelope.Type}' now; send it again shortly");
        }
        catch (JsonException e)
        {
            return Error(envelope.Id, ErrorCodes.ValidationError, $"A '{envelope.Type}' frame is malformed: {e.Message}");
        }
    }

    private async Task<(WorkerSession Session, int ReturnedJobs)> RegisterAsync(WebSocket socket, RegisterFrame frame, WorkerSession? current, CancellationToken ct)
    {
        if (frame.WorkerId.Length is 0 or > JobLimits.MaxIdLength || frame.MachineId.Length > JobLimits.MaxIdLength)
            throw new ClusterException(ErrorCodes.ValidationError, $"'worker_id' and 'machine_id' must be 1 to {JobLimits.MaxIdLength} characters");
        if (frame.Concurrency is < 1 or > 64) throw new ClusterException(ErrorCodes.ValidationError, "'concurrency' must be from 1 to 64");
        if (!frame.Capabilities.HasValidNames())
            throw new ClusterException(ErrorCodes.ValidationError, $"'capabilities.model_types' and 'capabilities.capabilities' must list strings of 1 to {JobLimits.MaxIdLength} characters");
        if (current is not null && current.WorkerId != frame.WorkerId)
            throw new ClusterException(ErrorCodes.ValidationError, $"This connection is worker {current.WorkerId}; open another for {frame.WorkerId}");
        if (current is not null) dispatcher.Remove(current);
        var returned = await grains.Worker(frame.WorkerId).RegisterAsync(new WorkerRegistration
        {
            WorkerId = frame.WorkerId, MachineId = frame.MachineId, Host = frame.Host, GpuCount = frame.GpuCount, GpuIndex = frame.GpuIndex,
            Concurrency = frame.Concurrency, Capabilities = frame.Capabilities,
        }, ct);
        LogRegistered(frame.WorkerId, frame.MachineId, returned);
        return (new WorkerSession(socket, frame), returned);
    }

    private static void CheckJob(string jobId, string leaseToken)
    {
        if (jobId.Length is 0 or > JobLimits.MaxIdLength) throw new ClusterException(ErrorCodes.ValidationError, "'job_id' is required");
        if (leaseToken.Length is 0 or > 64) throw new ClusterException(ErrorCodes.ValidationError, "'lease_token' is required");
    }

    private static T Read<T>(ReadOnlyMemory<byte> bytes) => FrameSocket.Read<T>(bytes);

    private static string? Bounded(string? text, int max) => text is null || text.Length <= max ? text : text[..max];

    private static AckFrame Ack(string? id) => new() { Type = WorkerFrameTypes.Ack, Ack = id };

    private static ErrorFrame Error(string? id, string code, string message) => FrameSocket.Error(id, code, message);

    private static Task SendAsync(WebSocket socket, WorkerSession? session, WorkerFrame frame, CancellationToken ct) =>
        session is not null
            ? session.SendAsync(frame, ct)
            : socket.SendAsync(FrameSocket.Write(frame), WebSocketMessageType.Text, true, ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} of machine {MachineId} registered ({Returned} earlier jobs returned to the queue)")]
    private partial void LogRegistered(string workerId, string machineId, int returned);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A '{FrameType}' frame of worker {WorkerId} got no answer from the cluster: {Reason}")]
    private partial void LogUnanswered(string frameType, string workerId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take worker {WorkerId} offline ({Reason}); its heartbeat will lapse instead")]
    private partial void LogUnregisterFailed(string workerId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed the connection of worker {WorkerId}, which sent what WebSocket forbids (a text message that is not UTF-8, or a broken frame)")]
    private partial void LogRefused(string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} disconnected holding {Held} jobs; they go back in line")]
    private partial void LogDisconnected(string workerId, int held);
}
