using Cluster.Testing;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Cluster.UnitTests.Client;

/// <summary>
/// Plays the silo's side of the worker protocol (docs/protocol.md) on a real WebSocket: it answers
/// <c>register</c> with <c>registered</c> and every other command with <c>ack</c> (or what <see cref="Reply"/> says),
/// hands the test each connection and every frame received, and lets the test push frames.
/// </summary>
internal sealed class FakeSilo : IDisposable
{
    public const string ApiKey = "test-worker-key";
    private readonly LocalHttpServer _server;
    private readonly Channel<SiloSession> _sessions = Channel.CreateUnbounded<SiloSession>();

    public FakeSilo()
    {
        Reply = DefaultReply;
        _server = new LocalHttpServer(AcceptAsync);
    }

    public Uri Address => _server.Address;

    /// <summary>How the silo answers a command frame; null sends nothing. Defaults to the documented replies.</summary>
    public Func<JsonObject, JsonObject?> Reply { get; set; }

    /// <summary>The heartbeat interval the silo asks for; long by default so that heartbeats do not clutter the frames.</summary>
    public long HeartbeatMs { get; set; } = 60_000;

    /// <summary>The next connection a worker opened.</summary>
    public async Task<SiloSession> NextSessionAsync(CancellationToken cancellationToken) => await _sessions.Reader.ReadAsync(cancellationToken);

    public JsonObject DefaultReply(JsonObject frame)
    {
        var id = frame["id"]?.GetValue<string>();
        return frame["type"]?.GetValue<string>() switch
        {
            "register" => new JsonObject
            {
                ["v"] = 1, ["type"] = "registered", ["ack"] = id, ["worker_id"] = frame["worker_id"]?.GetValue<string>(),
                ["lease_ms"] = 30_000, ["heartbeat_ms"] = HeartbeatMs, ["returned_jobs"] = 0,
            },
            "heartbeat" => new JsonObject { ["v"] = 1, ["type"] = "ack", ["ack"] = id, ["jobs"] = new JsonArray() },
            _ => new JsonObject { ["v"] = 1, ["type"] = "ack", ["ack"] = id },
        };
    }

    public static JsonObject ErrorReply(JsonObject frame, string code, string message) => new()
    {
        ["v"] = 1, ["type"] = "error", ["ack"] = frame["id"]?.GetValue<string>(), ["error"] = new JsonObject { ["code"] = code, ["message"] = message },
    };

    public static JsonObject JobAssigned(string jobId, JsonObject? payload = null, string lease = "lease-1") => new()
    {
        ["v"] = 1,
        ["type"] = "job_assigned",
        ["job"] = new JsonObject
        {
            ["id"] = jobId, ["type"] = "test-job", ["status"] = "assigned", ["priority"] = 50,
            ["payload"] = payload ?? new JsonObject { ["type"] = "test-job" },
        },
        ["lease_token"] = lease,
        ["lease_expires_at"] = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds(),
    };

    public void Dispose() => _server.Dispose();

    private async Task AcceptAsync(HttpListenerContext context)
    {
        if (context.Request.Url?.AbsolutePath != "/ws/worker" || !context.Request.IsWebSocketRequest)
        {
            await LocalHttpServer.WriteAsync(context.Response, 404, """{"success":false,"error":{"code":"NOT_FOUND","message":"no route"}}""");
            return;
        }
        if (context.Request.Headers["x-api-key"] != ApiKey)
        {
            await LocalHttpServer.WriteAsync(context.Response, 401, """{"success":false,"error":{"code":"UNAUTHORIZED","message":"bad key"}}""");
            return;
        }
        var accepted = await context.AcceptWebSocketAsync(subProtocol: null);
        // Aborting the WebSocket alone leaves HttpListener's TCP connection open; aborting the response drops it.
        var session = new SiloSession(accepted.WebSocket, this, context.Response.Abort);
        _sessions.Writer.TryWrite(session);
        await session.RunAsync();
    }
}

/// <summary>One worker connection, seen from the silo.</summary>
internal sealed class SiloSession(WebSocket socket, FakeSilo silo, Action dropConnection)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Channel<JsonObject> _received = Channel.CreateUnbounded<JsonObject>();

    /// <summary>Completes when the worker's socket closed.</summary>
    public Task Ended => _received.Reader.Completion;

    /// <summary>The next frame the worker sent that is not a heartbeat.</summary>
    public async Task<JsonObject> NextFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await _received.Reader.ReadAsync(cancellationToken);
            if (frame["type"]?.GetValue<string>() != "heartbeat") return frame;
        }
    }

    /// <summary>Every frame received so far, without waiting.</summary>
    public List<JsonObject> Drain()
    {
        var frames = new List<JsonObject>();
        while (_received.Reader.TryRead(out var frame)) frames.Add(frame);
        return frames;
    }

    public Task SendAsync(JsonObject frame) => SendTextAsync(frame.ToJsonString());

    /// <summary>Sends any text as a frame, well-formed or not.</summary>
    public async Task SendTextAsync(string text)
    {
        await _sendLock.WaitAsync();
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Drops the connection the way a crashing silo would.</summary>
    public void Abort()
    {
        socket.Abort();
        dropConnection();
    }

    public async Task RunAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                        return;
                    }
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                var frame = (JsonObject)JsonNode.Parse(message.ToArray())!;
                if (silo.Reply(frame) is { } reply) await SendAsync(reply);
                _received.Writer.TryWrite(frame);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The worker or the test dropped the connection.
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }
}
