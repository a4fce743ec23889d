using System.Collections.Concurrent;
using System.Net.WebSockets;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Silo.Protocol;

namespace Cluster.Silo.Workers;

/// <summary>One registered worker connected to this silo, and the jobs it holds.</summary>
public sealed class WorkerSession(WebSocket socket, RegisterFrame registration)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public string WorkerId => Registration.WorkerId;
    public RegisterFrame Registration { get; } = registration;
    public WorkerCapabilities Capabilities => Registration.Capabilities;
    public int Concurrency => Math.Max(1, Registration.Concurrency);

    /// <summary>Job id → lease token of every job pushed to this worker and not yet finished.</summary>
    public ConcurrentDictionary<string, string> Held { get; } = new(StringComparer.Ordinal);

    public bool HasCapacity => Held.Count < Concurrency && socket.State == WebSocketState.Open;

    /// <summary>Sends one frame; frames from the receive loop and the dispatcher never interleave.</summary>
    public async Task SendAsync(WorkerFrame frame, CancellationToken cancellationToken)
    {
        var bytes = FrameSocket.Write(frame);
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }
}
