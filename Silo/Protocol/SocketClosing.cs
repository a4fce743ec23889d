using System.Net.WebSockets;

namespace Cluster.Silo.Protocol;

/// <summary>Ends a WebSocket politely, without letting a peer that does not answer hold up the silo.</summary>
public static class SocketClosing
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    /// <summary>Closes with 1000 (normal), or 1001 (going away) when the silo is stopping, waiting at most a second.</summary>
    public static async Task CloseAsync(WebSocket socket, bool siloStopping)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
        using var patience = new CancellationTokenSource(Patience);
        try
        {
            if (siloStopping) await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "silo stopping", patience.Token);
            else await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", patience.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
    }
}
