using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cluster.Testing;

/// <summary>A client speaking a protocol's documented JSON frames over a real WebSocket, so tests check the wire itself.</summary>
public class ProtocolClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly byte[] _buffer = new byte[1 << 20];
    private int _nextId;

    public WebSocketState State => _socket.State;

    public static async Task<ProtocolClient> ConnectAsync(SiloProcess silo, string apiKey, string path = "/ws") =>
        await ConnectAsync(new ProtocolClient(), silo, apiKey, path);

    protected static async Task<T> ConnectAsync<T>(T client, SiloProcess silo, string apiKey, string path) where T : ProtocolClient
    {
        client._socket.Options.SetRequestHeader("x-api-key", apiKey);
        var uri = new UriBuilder(silo.BaseAddress) { Scheme = "ws", Path = path }.Uri;
        await client._socket.ConnectAsync(uri, CancellationToken.None);
        return client;
    }

    /// <summary>Sends a command with a fresh id and returns the ack or error that names it.</summary>
    public async Task<JsonObject> CommandAsync(JsonObject frame)
    {
        var id = (++_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        frame["v"] ??= 1;
        frame["id"] = id;
        await SendAsync(frame);
        return await ReceiveAsync(f => f["ack"]?.ToString() == id);
    }

    public Task SendAsync(JsonObject frame) => SendTextAsync(frame.ToJsonString());

    public Task SendTextAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Sends bytes as they are, as one text or binary message: for frames no well-behaved client would send.</summary>
    public Task SendRawAsync(byte[] bytes, WebSocketMessageType kind) =>
        _socket.SendAsync(bytes, kind, true, CancellationToken.None);

    private readonly List<JsonObject> _unclaimed = [];

    /// <summary>The next frame that satisfies <paramref name="match"/>; frames it skips are kept for later calls.</summary>
    public async Task<JsonObject> ReceiveAsync(Func<JsonObject, bool> match, TimeSpan? within = null)
    {
        var kept = _unclaimed.FirstOrDefault(match);
        if (kept is not null)
        {
            _unclaimed.Remove(kept);
            return kept;
        }
        using var deadline = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(20));
        var buffer = _buffer;
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer.AsMemory(count), deadline.Token);
                count += result.Count;
            } while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close) throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The silo closed the connection");
            var frame = JsonNode.Parse(buffer.AsSpan(0, count))!.AsObject();
            // Like any live client, answer the silo's heartbeat while reading.
            if (Text(frame["type"]) == "ping" && frame["ack"] is null) await SendAsync(new JsonObject { ["v"] = 1, ["type"] = "pong" });
            if (match(frame)) return frame;
            _unclaimed.Add(frame);
        }
    }

    public void Abort() => _socket.Abort();

    /// <summary>Reads until the socket closes; returns the status of the silo's close frame, or null when the link just died.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
                if ((await _socket.ReceiveAsync(buffer.AsMemory(), deadline.Token)).MessageType == WebSocketMessageType.Close) return _socket.CloseStatus;
        }
        catch (WebSocketException)
        {
            // an abort on the silo's side closes it too
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            }
            catch (WebSocketException)
            {
            }
        }
        _socket.Dispose();
    }

    public static string Text(JsonNode? node) => node?.ToString() ?? "";

    public static JsonElement Element(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
}

/// <summary>A GPU worker on <c>/ws/worker</c> made of raw protocol frames.</summary>
public sealed class RawWorker : ProtocolClient
{
    public static Task<RawWorker> ConnectAsync(SiloProcess silo, string apiKey) => ConnectAsync(new RawWorker(), silo, apiKey, "/ws/worker");

    public async Task<JsonObject> RegisterAsync(string workerId, string machineId, JsonObject capabilities, int concurrency = 1)
    {
        await SendAsync(new JsonObject
        {
            ["v"] = 1, ["type"] = "register", ["worker_id"] = workerId, ["machine_id"] = machineId,
            ["concurrency"] = concurrency, ["capabilities"] = capabilities,
        });
        return await ReceiveAsync(f => f["type"]!.ToString() is "registered" or "error");
    }

    public Task<JsonObject> NextAssignmentAsync(TimeSpan? within = null) => ReceiveAsync(f => f["type"]!.ToString() == "job_assigned", within);

    public static JsonObject Capabilities(params string[] capabilities) => new()
    {
        ["gpu_memory"] = 24, ["model_types"] = new JsonArray("stable-diffusion"),
        ["capabilities"] = new JsonArray(capabilities.Select(c => (JsonNode)c!).ToArray()),
    };

}
