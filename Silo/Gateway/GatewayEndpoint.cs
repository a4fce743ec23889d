using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Streams;
using Cluster.Silo.Auth;
using Cluster.Silo.Protocol;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Gateway;

/// <summary>The gateway protocol v1 on <c>/ws</c> (docs/protocol.md): subscriptions to the event streams.</summary>
public sealed partial class GatewayEndpoint(EventHub hub, Cluster.Grains.GrainFactory grains, IOptions<GatewayOptions> options, IHostApplicationLifetime lifetime, ILogger<GatewayEndpoint> logger)
{
    private readonly GatewayOptions _options = options.Value;

    public static void Map(IEndpointRouteBuilder app) =>
        app.Map("/ws", (HttpContext context, GatewayEndpoint gateway) => gateway.AcceptAsync(context))
            .RequireScope(ApiScopes.Monitor, ApiScopes.Submit);

    public async Task AcceptAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Api.ApiError.WriteAsync(context, StatusCodes.Status400BadRequest, ErrorCodes.ValidationError, "This endpoint speaks WebSocket only");
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var connection = new GatewayConnection(socket, _options, context.User.Scopes().ToArray(), context.User.UserIdOf());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        using var goingAway = SocketClosing.GoAwayWhenStopping(socket, lifetime.ApplicationStopping);
        var sender = connection.RunSenderAsync(stop.Token);
        var heartbeat = HeartbeatAsync(connection, socket, stop.Token);
        connection.QueueControl(new WelcomeFrame
        {
            Type = GatewayFrameTypes.Welcome, HeartbeatMs = (long)_options.HeartbeatInterval.TotalMilliseconds, MaxFrameBytes = _options.MaxFrameBytes,
        });
        try
        {
            await ReceiveLoopAsync(connection, socket, stop.Token);
        }
        catch (WebSocketException e) when (SocketClosing.IsRefusal(e))
        {
            LogRefused();
            await SocketClosing.LingerAfterRefusalAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // the client went away
        }
        finally
        {
            foreach (var subscription in connection.RemoveAll()) hub.Remove(subscription);
            connection.Complete();
            await stop.CancelAsync();
            await Task.WhenAll(sender, heartbeat);
            await SocketClosing.CloseAsync(socket, lifetime.ApplicationStopping.IsCancellationRequested);
        }
    }

    private async Task ReceiveLoopAsync(GatewayConnection connection, WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (socket.State == WebSocketState.Open)
        {
            var (kind, tooLarge) = await FrameSocket.ReceiveAsync(socket, buffer, _options.MaxFrameBytes, cancellationToken);
            if (kind == WebSocketMessageType.Close) return;
            connection.LastReceivedTicks = Environment.TickCount64;
            if (tooLarge)
            {
                connection.QueueControl(Error(null, "FRAME_TOO_LARGE", $"Frames are limited to {_options.MaxFrameBytes} bytes"));
                continue;
            }
            var reply = await HandleAsync(connection, buffer.WrittenMemory, cancellationToken);
            if (reply is not null) connection.QueueControl(reply);
        }
    }

    private async Task<WorkerFrame?> HandleAsync(GatewayConnection connection, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (FrameSocket.ReadEnvelope(bytes.Span, out var envelope) is { } refused) return refused;
        try
        {
            switch (envelope.Type)
            {
                case GatewayFrameTypes.Subscribe or GatewayFrameTypes.SubscribeJob:
                    return await SubscribeAsync(connection, Read<SubscribeFrame>(bytes), cancellationToken);
                case GatewayFrameTypes.Unsubscribe:
                    var unsubscribe = Read<UnsubscribeFrame>(bytes);
                    if (unsubscribe.Subscription.Length == 0) return Error(envelope.Id, ErrorCodes.ValidationError, "'subscription' is required");
                    if (connection.Remove(unsubscribe.Subscription) is not { } removed)
                        return Error(envelope.Id, ErrorCodes.NotFound, $"No subscription '{unsubscribe.Subscription}' on this connection");
                    hub.Remove(removed);
                    return new AckFrame { Type = WorkerFrameTypes.Ack, Ack = envelope.Id };
                case GatewayFrameTypes.Ping:
                    return new AckFrame { Type = GatewayFrameTypes.Pong, Ack = envelope.Id };
                case GatewayFrameTypes.Pong:
                    return null;
                default:
                    return Error(envelope.Id, "UNKNOWN_TYPE", $"Unknown frame type '{envelope.Type}'");
            }
        }
        catch (JsonException e)
        {
            return Error(envelope.Id, ErrorCodes.ValidationError, $"A '{envelope.Type}' frame is malformed: {e.Message}");
        }
    }

    private async Task<WorkerFrame?> SubscribeAsync(GatewayConnection connection, SubscribeFrame frame, CancellationToken cancellationToken)
    {
        var seedStyle = frame.Type == GatewayFrameTypes.SubscribeJob || (frame.Topic is null && frame.JobId is not null);
        var topic = seedStyle ? GatewayTopics.Jobs : frame.Topic;
        var filter = seedStyle ? new EventFilter { JobId = frame.JobId } : frame.Filter ?? new EventFilter();
        if (seedStyle && string.IsNullOrEmpty(frame.JobId)) return Error(frame.Id, ErrorCodes.ValidationError, "'job_id' is required");
        if (topic is null || !GatewayTopics.Streams.ContainsKey(topic))
            return Error(frame.Id, ErrorCodes.ValidationError, $"'topic' must be one of {string.Join(", ", GatewayTopics.Streams.Keys)}");
        if (frame.Since is not null && !StreamIds.TryParse(frame.Since, out _) && frame.Since != "0")
            return Error(frame.Id, ErrorCodes.ValidationError, "'since' must be an event id such as 1795320329064-0");
        if (TooLong(filter)) return Error(frame.Id, ErrorCodes.ValidationError, "A filter lists at most 500 values of at most 128 characters each");
        if (!ApiScopes.Allows(connection.Scopes, ApiScopes.Monitor))
        {
            if (topic != GatewayTopics.Jobs || filter.JobId is null)
                return Error(frame.Id, ErrorCodes.Forbidden, "A key without the monitor scope may only follow single jobs (filter.job_id)");
            // Another tenant's job is answered as one that does not exist, as over HTTP.
            if (await grains.Job(filter.JobId).GetAsync(cancellationToken) is { } job && !Tenancy.MaySee(connection.Scopes, connection.UserId, job.Tenant))
                return Error(frame.Id, ErrorCodes.JobNotFound, "Job not found: " + filter.JobId);
        }
        if (connection.SubscriptionCount >= _options.MaxSubscriptionsPerConnection)
            return Error(frame.Id, "TOO_MANY_SUBSCRIPTIONS", $"A connection may hold at most {_options.MaxSubscriptionsPerConnection} subscriptions");

        var subscription = new GatewaySubscription(connection, connection.NextSubscriptionId(), topic, filter, seedStyle);
        subscription.Lagged += OnLagged;
        connection.Add(subscription);
        var truncated = frame.Since is not null && await hub.IsTrimmedAsync(topic, frame.Since, cancellationToken);
        if (truncated) LogTruncated(subscription.Id, frame.Since!);
        // Attached before the acknowledgement, so that every event appended after the client reads it is delivered; the
        // acknowledgement goes before any event, so that the client knows the subscription id of the events that follow.
        await hub.AttachAsync(subscription, cancellationToken);
        connection.QueueControl(new SubscribedFrame
        {
            Type = GatewayFrameTypes.Subscribed, Ack = frame.Id, Subscription = subscription.Id, Topic = topic, Truncated = truncated ? true : null,
        });
        if (frame.Since is null) subscription.Release(null);
        else await hub.ReplayAsync(subscription, frame.Since, cancellationToken);
        return null;
    }

    private void OnLagged(GatewaySubscription subscription)
    {
        hub.Remove(subscription);
        subscription.Connection.Remove(subscription.Id);
        subscription.Connection.QueueControl(new LaggedFrame { Type = GatewayFrameTypes.Lagged, Subscription = subscription.Id, LastEventId = subscription.LastEventId });
        LogLagged(subscription.Id, subscription.LastEventId);
    }

    private async Task HeartbeatAsync(GatewayConnection connection, WebSocket socket, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (Environment.TickCount64 - connection.LastReceivedTicks > 3 * _options.HeartbeatInterval.TotalMilliseconds)
                {
                    LogSilentClient();
                    socket.Abort();
                    return;
                }
                connection.QueueControl(new WorkerFrame { Type = GatewayFrameTypes.Ping });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static bool TooLong(EventFilter f) =>
        new[] { f.MachineIds, f.JobTypes, f.EventTypes }.Any(list => list is { Count: > 500 } || list?.Any(v => v is null || v.Length > 128) == true)
        || f.JobId is { Length: > 128 } || f.WorkflowId is { Length: > 128 };

    private static T Read<T>(ReadOnlyMemory<byte> bytes) => FrameSocket.Read<T>(bytes);

    private static ErrorFrame Error(string? id, string code, string message) => FrameSocket.Error(id, code, message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscription {Subscription} lagged at {LastEventId}; the client was told to resume from there")]
    private partial void LogLagged(string subscription, string? lastEventId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscription {Subscription} asked for events since {Since}, some of which the stream has already trimmed")]
    private partial void LogTruncated(string subscription, string since);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed a gateway connection whose client sent what WebSocket forbids (a text message that is not UTF-8, or a broken frame)")]
    private partial void LogRefused();

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped a gateway client that stopped answering pings")]
    private partial void LogSilentClient();
}
