using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Cluster.Grains.Modules.Osc;

/// <summary>
/// The receiving side of an <c>osc-input</c> module: a UDP socket whose datagrams are decoded and handed on one message
/// at a time, a bundle's messages in order with the bundle's time tag. A malformed datagram is counted and never stops
/// the listener; the count is logged at most once per <c>malformedLogInterval</c>, so a noisy sender cannot flood the log.
/// </summary>
public sealed partial class OscListener : IAsyncDisposable
{
    private readonly UdpClient _socket;
    private readonly Func<OscMessage, ulong, ValueTask> _onMessage;
    private readonly ILogger _logger;
    private readonly TimeSpan _malformedLogInterval;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiving;
    private long _received;
    private long _malformed;
    private long _malformedUnlogged;
    private DateTime _malformedLoggedAt = DateTime.MinValue;

    private OscListener(UdpClient socket, Func<OscMessage, ulong, ValueTask> onMessage, ILogger logger, TimeSpan malformedLogInterval)
    {
        _socket = socket;
        _onMessage = onMessage;
        _logger = logger;
        _malformedLogInterval = malformedLogInterval;
        _receiving = ReceiveAsync(_stopping.Token);
    }

    /// <summary>Listens on <paramref name="endpoint"/> (port 0: a free one, see <see cref="Port"/>).</summary>
    /// <param name="onMessage">Called with each message and its bundle's time tag (<see cref="OscBundle.Immediately"/> for a lone message), one at a time.</param>
    public static OscListener Start(IPEndPoint endpoint, Func<OscMessage, ulong, ValueTask> onMessage, ILogger logger, TimeSpan? malformedLogInterval = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(onMessage);
        return new OscListener(new UdpClient(endpoint), onMessage, logger, malformedLogInterval ?? TimeSpan.FromSeconds(10));
    }

    public int Port => ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;

    /// <summary>Valid packets received.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Datagrams that were not valid OSC 1.0.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    private async Task ReceiveAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            UdpReceiveResult datagram;
            try
            {
                datagram = await _socket.ReceiveAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // An ICMP "port unreachable" for an earlier send surfaces here on some stacks; the socket itself is fine.
                LogReceiveFailed(e.SocketErrorCode);
                continue;
            }
            if (!OscCodec.TryDecode(datagram.Buffer, out var packet, out var error))
            {
                Interlocked.Increment(ref _malformed);
                NoteMalformed(error, datagram.RemoteEndPoint);
                continue;
            }
            Interlocked.Increment(ref _received);
            try
            {
                await DeliverAsync(packet, OscBundle.Immediately).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogHandlerFailed(e);
            }
        }
    }

    private async ValueTask DeliverAsync(OscPacket packet, ulong timeTag)
    {
        switch (packet)
        {
            case OscMessage message:
                await _onMessage(message, timeTag).ConfigureAwait(false);
                break;
            case OscBundle bundle:
                foreach (var element in bundle.Elements) await DeliverAsync(element, bundle.TimeTag).ConfigureAwait(false);
                break;
        }
    }

    private void NoteMalformed(string error, IPEndPoint from)
    {
        _malformedUnlogged++;
        var now = DateTime.UtcNow;
        if (now - _malformedLoggedAt < _malformedLogInterval) return;
        LogMalformed(_malformedUnlogged, from, error);
        (_malformedLoggedAt, _malformedUnlogged) = (now, 0);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _receiving.ConfigureAwait(false);
        _socket.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} malformed OSC packet(s) since the last report; the latest from {From}: {Error}")]
    private partial void LogMalformed(long count, IPEndPoint from, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receiving OSC failed ({Error}); listening on")]
    private partial void LogReceiveFailed(SocketError error);

    [LoggerMessage(Level = LogLevel.Error, Message = "An OSC message's handler failed; listening on")]
    private partial void LogHandlerFailed(Exception exception);
}
