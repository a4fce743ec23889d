using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Protocol;

namespace Cluster.Client.Api;

/// <summary>
/// One worker's WebSocket to a silo, speaking the worker protocol of docs/protocol.md: it registers, then
/// hands out the frames the silo pushes (<see cref="JobAssignedFrame"/>, <see cref="JobRevokedFrame"/>,
/// and <see cref="ErrorFrame"/>s that answer no command) on <see cref="Pushes"/>, and sends progress,
/// completion, failure and heartbeats, each awaiting its acknowledgement. <see cref="Pushes"/> completes
/// when the connection ends; a new connection is the way to go on.
/// </summary>
public sealed class WorkerConnection : IAsyncDisposable
{
    /// <summary>The protocol's frame limit, both ways.</summary>
    public const int MaxFrameBytes = 1024 * 1024;
    private static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(10);

    private readonly Uri _endpoint;
    private readonly string _apiKey;
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _awaitingReply = new();
    private readonly Channel<WorkerFrame> _pushes = Channel.CreateUnbounded<WorkerFrame>(new() { SingleWriter = true });
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextFrameId;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _heartbeatLoop = Task.CompletedTask;

    /// <param name="siloAddress">The silo's base address, <c>http(s)://host:port</c>; the socket goes to <c>/ws/worker</c> on it.</param>
    public WorkerConnection(Uri siloAddress, string apiKey)
    {
        ArgumentNullException.ThrowIfNull(siloAddress);
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        _endpoint = EndpointFor(siloAddress);
        _apiKey = apiKey;
    }

    /// <summary>How long the silo waits for a reply before a command counts as lost.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>What the silo said when it accepted the registration.</summary>
    public RegisteredFrame? Registration { get; private set; }

    /// <summary>Jobs assigned and revoked, and unsolicited errors, in the order the silo sent them.</summary>
    public ChannelReader<WorkerFrame> Pushes => _pushes.Reader;

    /// <summary>Completes when the connection has ended, for whatever reason.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Called when a heartbeat fails; the connection is aborted after it, so that the worker reconnects.</summary>
    public Action<Exception>? HeartbeatFailed { get; init; }

    public static Uri EndpointFor(Uri siloAddress)
    {
        ArgumentNullException.ThrowIfNull(siloAddress);
        var builder = new UriBuilder(siloAddress)
        {
            Scheme = siloAddress.Scheme is "https" or "wss" ? "wss" : "ws",
            Path = siloAddress.AbsolutePath.TrimEnd('/') + "/ws/worker",
        };
        return builder.Uri;
    }

    /// <summary>Opens the socket, registers and starts heartbeating. Throws <see cref="WorkerProtocolException"/> when registration is refused.</summary>
    public async Task<RegisteredFrame> ConnectAsync(RegisterFrame registration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        _socket.Options.SetRequestHeader(ClusterClient.ApiKeyHeader, _apiKey);
        _socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await _socket.ConnectAsync(_endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException) when (_socket.HttpStatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
        {
            var status = (int)_socket.HttpStatusCode;
            throw new ClusterApiException(status, status == 401 ? ErrorCodes.Unauthorized : ErrorCodes.Forbidden,
                status == 401 ? "The silo refused the API key." : "The API key lacks the worker scope.");
        }
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);

        var reply = await SendCommandAsync(registration with { Type = WorkerFrameTypes.Register }, cancellationToken).ConfigureAwait(false);
        var registered = reply.Deserialize<RegisteredFrame>(ClusterJson.Options)
            ?? throw new WorkerProtocolException("INVALID_REPLY", "The silo's registered frame was empty.");
        Registration = registered;
        var heartbeat = registered.HeartbeatMs > 0 ? TimeSpan.FromMilliseconds(registered.HeartbeatMs) : DefaultHeartbeat;
        _heartbeatLoop = Task.Run(() => HeartbeatLoopAsync(heartbeat), CancellationToken.None);
        return registered;
    }

    /// <summary>Renews this worker and its leases; returns the ids of the jobs the silo says it holds.</summary>
    public async Task<IReadOnlyList<string>> HeartbeatAsync(CancellationToken cancellationToken = default)
    {
        var reply = await SendCommandAsync(new WorkerFrame { Type = WorkerFrameTypes.Heartbeat }, cancellationToken).ConfigureAwait(false);
        return reply["jobs"]?.Deserialize<List<string>>(ClusterJson.Options) ?? [];
    }

    public Task ReportProgressAsync(string jobId, string leaseToken, double progress, string? message, CancellationToken cancellationToken = default) =>
        SendCommandAsync(new ProgressFrame
        {
            Type = WorkerFrameTypes.Progress, JobId = jobId, LeaseToken = leaseToken, Progress = Math.Clamp(progress, 0, 100), Message = message,
        }, cancellationToken);

    public Task CompleteAsync(string jobId, string leaseToken, JsonNode? result, CancellationToken cancellationToken = default) =>
        SendCommandAsync(new CompleteFrame { Type = WorkerFrameTypes.Complete, JobId = jobId, LeaseToken = leaseToken, Result = result }, cancellationToken);

    public Task FailAsync(string jobId, string leaseToken, JobError error, bool retryable, CancellationToken cancellationToken = default) =>
        SendCommandAsync(new FailFrame { Type = WorkerFrameTypes.Fail, JobId = jobId, LeaseToken = leaseToken, Error = error, Retryable = retryable }, cancellationToken);

    /// <summary>Closes the socket politely, waiting briefly for the silo's close.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await _sendLock.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "worker stopping", timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    _sendLock.Release();
                }
                await _receiveLoop.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // The silo did not answer the close in time; aborting below is all that is left.
            }
        }
        Abort();
    }

    /// <summary>Drops the connection at once; <see cref="Pushes"/> completes and pending commands fail.</summary>
    public void Abort()
    {
        if (!_lifetime.IsCancellationRequested) _lifetime.Cancel();
        _socket.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        Abort();
        await Task.WhenAll(_receiveLoop, _heartbeatLoop).ConfigureAwait(false);
        // A connection that never got as far as its receive loop still ends for those who wait on it.
        _pushes.Writer.TryComplete();
        _closed.TrySetResult();
        _socket.Dispose();
        _sendLock.Dispose();
        _lifetime.Dispose();
    }

    private async Task<JsonObject> SendCommandAsync(WorkerFrame frame, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextFrameId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        // `with` keeps the runtime type; serializing by it writes the frame's own fields, not just the envelope's.
        var stamped = frame with { Id = id, V = WorkerFrame.ProtocolVersion };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(stamped, stamped.GetType(), ClusterJson.Options);
        if (bytes.Length > MaxFrameBytes)
            throw new WorkerProtocolException("FRAME_TOO_LARGE", $"The {frame.Type} frame is {bytes.Length} bytes; the limit is {MaxFrameBytes}.");

        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaitingReply[id] = reply;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, linked.Token).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
            return await reply.Task.WaitAsync(ReplyTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException
            || (e is OperationCanceledException && _lifetime.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
        {
            throw new WorkerConnectionClosedException($"The connection closed before the {frame.Type} frame was answered.", e);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The silo did not answer the {frame.Type} frame within {ReplyTimeout.TotalSeconds:0} s.");
        }
        finally
        {
            _awaitingReply.TryRemove(id, out _);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? failure = null;
        try
        {
            var buffer = new ArrayBufferWriter<byte>(16 * 1024);
            while (!_lifetime.IsCancellationRequested)
            {
                buffer.ResetWrittenCount();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.GetMemory(16 * 1024), _lifetime.Token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    buffer.Advance(result.Count);
                    if (buffer.WrittenCount > MaxFrameBytes)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "frame too large", CancellationToken.None).ConfigureAwait(false);
                        failure = new WorkerProtocolException("FRAME_TOO_LARGE", $"The silo sent a frame larger than {MaxFrameBytes} bytes.");
                        return;
                    }
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Text) Dispatch(buffer.WrittenSpan);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            failure = e;
        }
        finally
        {
            var closed = new WorkerConnectionClosedException("The connection to the silo closed.", failure);
            foreach (var (_, waiting) in _awaitingReply) waiting.TrySetException(closed);
            _pushes.Writer.TryComplete();
            if (!_lifetime.IsCancellationRequested) await _lifetime.CancelAsync().ConfigureAwait(false);
            _closed.TrySetResult();
        }
    }

    private void Dispatch(ReadOnlySpan<byte> json)
    {
        string? type, ack;
        try
        {
            (type, ack) = ReadEnvelope(json);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            _pushes.Writer.TryWrite(new ErrorFrame { Type = WorkerFrameTypes.Error, Error = new("INVALID_FRAME", $"The silo sent a frame that is not a JSON object: {e.Message}") });
            return;
        }

        try
        {
            if (ack is not null && _awaitingReply.TryGetValue(ack, out var waiting))
            {
                if (type == WorkerFrameTypes.Error)
                {
                    // Read loosely: a refusal without a well-formed error body still fails the command at once.
                    var error = JsonNode.Parse(json)?["error"];
                    waiting.TrySetException(new WorkerProtocolException(
                        Text(error?["code"]) ?? "ERROR", Text(error?["message"]) ?? "The silo refused the frame."));
                }
                else
                {
                    waiting.TrySetResult(JsonNode.Parse(json)!.AsObject());
                }
                return;
            }

            WorkerFrame? push = type switch
            {
                WorkerFrameTypes.JobAssigned => ReadJobAssigned(json),
                WorkerFrameTypes.JobRevoked => JsonSerializer.Deserialize<JobRevokedFrame>(json, ClusterJson.Options),
                WorkerFrameTypes.Error => JsonSerializer.Deserialize<ErrorFrame>(json, ClusterJson.Options),
                _ => null, // a reply to a command nobody awaits any more, or a frame of a newer silo: nothing to do
            };
            if (push is not null) _pushes.Writer.TryWrite(push);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            _pushes.Writer.TryWrite(new ErrorFrame { Type = WorkerFrameTypes.Error, Error = new("INVALID_FRAME", $"The silo sent a {type} frame that could not be read: {e.Message}") });
        }
    }

    /// <summary>The frame's <c>type</c> and <c>ack</c>, read without building the rest, which is then read once into its record.</summary>
    private static (string? Type, string? Ack) ReadEnvelope(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new JsonException("not an object");
        string? type = null, ack = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isType = reader.ValueTextEquals("type"u8);
            var isAck = !isType && reader.ValueTextEquals("ack"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.String && (isType || isAck))
            {
                if (isType) type = reader.GetString();
                else ack = reader.GetString();
            }
            else
            {
                reader.Skip();
            }
        }
        return (type, ack);
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static JobAssignedFrame? ReadJobAssigned(ReadOnlySpan<byte> json)
    {
        // The job record requires a status; a silo that leaves it out of the push means the job it just assigned.
        try
        {
            var frame = JsonSerializer.Deserialize<JobAssignedFrame>(json, ClusterJson.Options);
            return frame is { Job.Status: null } ? frame with { Job = frame.Job with { Status = JobStatus.Assigned } } : frame;
        }
        catch (JsonException) when (JsonNode.Parse(json) is JsonObject frame && frame["job"] is JsonObject job && job["status"] is null)
        {
            job["status"] = JobStatus.Assigned;
            return frame.Deserialize<JobAssignedFrame>(ClusterJson.Options);
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_lifetime.Token).ConfigureAwait(false))
            {
                try
                {
                    await HeartbeatAsync(_lifetime.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or WorkerProtocolException)
                {
                    // A silo that does not answer heartbeats is as good as gone (a half-open TCP connection, say):
                    // dropping the socket makes the worker reconnect instead of waiting for the kernel to notice.
                    HeartbeatFailed?.Invoke(e);
                    Abort();
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WorkerConnectionClosedException)
        {
            // The connection ended; so do heartbeats.
        }
    }
}
