using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Silo.Protocol;

namespace Cluster.Silo.Gateway;

/// <summary>
/// One client on <c>/ws</c>: its subscriptions and its send queue. Events and replies share one queue, so a
/// reply is never overtaken by events sent after it; the queue is bounded so that a client that stops
/// reading costs a fixed amount of memory: its subscriptions are told they lagged and end.
/// </summary>
public sealed class GatewayConnection(WebSocket socket, GatewayOptions options, IReadOnlyCollection<string> scopes, string? userId = null)
{
    /// <summary>The user the connection's key or login belongs to, whose jobs alone it may follow without <c>monitor</c>.</summary>
    public string? UserId { get; } = userId;

    // Replies are bounded apart from events: a client that floods commands without reading replies is cut off.
    private const int MaxQueuedControlFrames = 1_000;
    private readonly Channel<OutboundFrame> _queue = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, GatewaySubscription> _subscriptions = new(StringComparer.Ordinal);
    private int _queuedEvents;
    private int _queuedControl;
    private int _nextSubscription;
    private TaskCompletionSource? _room;

    public IReadOnlyCollection<string> Scopes { get; } = scopes;
    public long LastReceivedTicks { get; set; } = Environment.TickCount64;

    public int SubscriptionCount
    {
        get { lock (_subscriptions) return _subscriptions.Count; }
    }

    public string NextSubscriptionId() => "s" + Interlocked.Increment(ref _nextSubscription).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Add(GatewaySubscription subscription)
    {
        lock (_subscriptions) _subscriptions[subscription.Id] = subscription;
    }

    public GatewaySubscription? Remove(string id)
    {
        lock (_subscriptions) return _subscriptions.Remove(id, out var s) ? s : null;
    }

    public GatewaySubscription[] RemoveAll()
    {
        lock (_subscriptions)
        {
            var all = _subscriptions.Values.ToArray();
            _subscriptions.Clear();
            return all;
        }
    }

    /// <summary>Queues an event frame; false when the queue is full (the subscription has lagged).</summary>
    public bool TryQueueEvent(byte[] head, byte[]? tail)
    {
        if (Interlocked.Increment(ref _queuedEvents) > options.SendQueueFrames)
        {
            Interlocked.Decrement(ref _queuedEvents);
            return false;
        }
        return _queue.Writer.TryWrite(new OutboundFrame(head, tail, IsControl: false));
    }

    /// <summary>
    /// Waits until the send queue has room for another event: a replay reads history at the pace the client
    /// reads it, so replaying a long history never overflows the queue by itself.
    /// </summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _queuedEvents) < options.SendQueueFrames) return Task.CompletedTask;
        var room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = Interlocked.CompareExchange(ref _room, room, null) ?? room;
        // The sender may have drained the queue between the check and the registration.
        if (Volatile.Read(ref _queuedEvents) < options.SendQueueFrames) current.TrySetResult();
        return current.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Queues a reply or notice; a client with too many unread replies is disconnected.</summary>
    public void QueueControl(WorkerFrame frame)
    {
        if (Interlocked.Increment(ref _queuedControl) > MaxQueuedControlFrames)
        {
            socket.Abort();
            return;
        }
        _queue.Writer.TryWrite(new OutboundFrame(FrameSocket.Write(frame), null, IsControl: true));
    }

    /// <summary>Sends queued frames until the connection closes.</summary>
    public async Task RunSenderAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        var joined = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var frame))
                {
                    if (frame.IsControl) Interlocked.Decrement(ref _queuedControl);
                    else if (Interlocked.Decrement(ref _queuedEvents) <= options.SendQueueFrames / 2) Interlocked.Exchange(ref _room, null)?.TrySetResult();
                    if (frame.Tail is null)
                    {
                        await socket.SendAsync(frame.Head, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                        continue;
                    }
                    // One write per frame: the shared tail and this subscriber's head meet in a reused buffer.
                    joined.ResetWrittenCount();
                    joined.Write(frame.Head);
                    joined.Write(frame.Tail);
                    await socket.SendAsync(joined.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the client went away; the receive side cleans up
        }
    }

    public void Complete()
    {
        _queue.Writer.TryComplete();
        Interlocked.Exchange(ref _room, null)?.TrySetCanceled();
    }
}
