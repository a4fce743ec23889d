using System.Net.WebSockets;

namespace Cluster.Silo.Protocol;

/// <summary>Ends a WebSocket politely, without letting a peer that does not answer hold up the silo.</summary>
public static class SocketClosing
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Once <paramref name="stopping"/> fires, tells the peer with 1001 (going away) while the endpoint's
    /// receive loop goes on reading, so that the peer's answering close frame ends that loop; a peer that
    /// has not answered within a second is aborted. Cancelling a pending receive instead would abort the
    /// socket before anything was said. Dispose the result when the endpoint is done with the socket.
    /// </summary>
    public static CancellationTokenRegistration GoAwayWhenStopping(WebSocket socket, CancellationToken stopping) =>
        stopping.Register(static state => _ = GoAwayAsync((WebSocket)state!), socket);

    private static async Task GoAwayAsync(WebSocket socket)
    {
        await CloseAsync(socket, siloStopping: true).ConfigureAwait(false);
        try
        {
            await Task.Delay(Patience).ConfigureAwait(false);
            if (socket.State != WebSocketState.Closed) socket.Abort();
        }
        catch (ObjectDisposedException)
        {
            // the endpoint finished with it meanwhile
        }
    }

    /// <summary>
    /// True when the socket itself refused what the peer sent, as RFC 6455 has it: a text message that is not valid
    /// UTF-8 (1007) or a broken frame (1002). The socket has sent its close frame with that status and reads no more.
    /// </summary>
    public static bool IsRefusal(WebSocketException e) => e.WebSocketErrorCode == WebSocketError.Faulted;

    /// <summary>
    /// After a <see cref="IsRefusal">refusal</see>, waits for the peer to hang up, at most a second. Ending the request
    /// at once would have Kestrel drop the connection right behind the close frame, and a reset that overtakes the
    /// frame leaves the peer with a broken connection instead of the status that says why.
    /// </summary>
    public static async Task LingerAfterRefusalAsync(CancellationToken peerGone)
    {
        try
        {
            await Task.Delay(Patience, peerGone).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the peer read the close frame and went
        }
    }

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
