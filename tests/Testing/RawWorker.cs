using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cluster.Testing;

/// <summary>A worker speaking the documented frames over a real WebSocket, so tests check the wire itself.</summary>
public sealed class RawWorker : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private RawWorker() { }

    public static async Task<RawWorker> ConnectAsync(SiloProcess silo, string apiKey)
    {
        var worker = new RawWorker();
        worker._socket.Options.SetRequestHeader("x-api-key", apiKey);
        var uri = new UriBuilder(silo.BaseAddress) { Scheme = "ws", Path = "/ws/worker" }.Uri;
        await worker._socket.ConnectAsync(uri, CancellationToken.None);
        return worker;
    }

    public async Task<JsonObject> RegisterAsync(string workerId, string machineId, JsonObject capabilities, int concurrency = 1)
    {
        await SendAsync(new JsonObject
        {
            ["v"] = 1, ["type"] = "register", ["worker_id"] = workerId, ["machine_id"] = machineId,
            ["concurrency"] = concurrency, ["capabilities"] = capabilities,
        });
        return await ReceiveAsync(f => f["type"]!.ToString() is "registered" or "error");
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
        var buffer = new byte[1 << 20];
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer.AsMemory(count), deadline.Token);
                count += result.Count;
            } while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException("The silo closed the connection");
            var frame = JsonNode.Parse(buffer.AsSpan(0, count))!.AsObject();
            if (match(frame)) return frame;
            _unclaimed.Add(frame);
        }
    }

    public Task<JsonObject> NextAssignmentAsync(TimeSpan? within = null) => ReceiveAsync(f => f["type"]!.ToString() == "job_assigned", within);

    public void Abort() => _socket.Abort();

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

    public static JsonObject Capabilities(params string[] capabilities) => new()
    {
        ["gpu_memory"] = 24, ["model_types"] = new JsonArray("stable-diffusion"),
        ["capabilities"] = new JsonArray(capabilities.Select(c => (JsonNode)c!).ToArray()),
    };

    public static string Text(JsonNode? node) => node?.ToString() ?? "";

    public static JsonElement Element(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
}
