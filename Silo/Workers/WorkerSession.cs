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

    /// <summary>0: no claim loop runs for this worker; 1: one runs; 2: one runs and was woken again since it started.</summary>
    private int _claiming;

    /// <summary>True when the caller is to run this worker's claim loop; otherwise the running loop learns it was woken.</summary>
    public bool WakeClaims()
    {
        while (true)
        {
            var now = Volatile.Read(ref _claiming);
            if (Interlocked.CompareExchange(ref _claiming, now == 0 ? 1 : 2, now) == now) return now == 0;
        }
    }

    /// <summary>At the end of a claim loop: true when it was woken meanwhile and goes on, since a job may have become claimable after its last claim.</summary>
    public bool ClaimAgain() => Interlocked.CompareExchange(ref _claiming, 0, 1) != 1 && Interlocked.Exchange(ref _claiming, 1) == 2;

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
