namespace Cluster.Client.Agent;

/// <summary>Why a running job's connector was cancelled; it decides what the worker tells the silo afterwards.</summary>
public enum JobStopReason
{
    /// <summary>The silo revoked the job (cancelled, or its lease is gone): say nothing more about it.</summary>
    Revoked,
    /// <summary>The connection dropped: the lease is lost with it, since registering again returns the job to the queue.</summary>
    ConnectionLost,
    /// <summary>The agent is stopping and the job did not finish in time: fail it as retryable so another worker takes it.</summary>
    Shutdown,
}

/// <summary>A job a worker is running, the lease it runs under, and the means to stop it.</summary>
internal sealed class RunningJob(string jobId, string leaseToken) : IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();
    private int _reason = -1;
    private string _leaseToken = leaseToken;

    public string JobId { get; } = jobId;

    /// <summary>
    /// The lease its progress, completion or failure is sent under: the newest the silo assigned the job under, since
    /// a silo that lost track of a hold (its silo died) may hand the running job to this worker again.
    /// </summary>
    public string LeaseToken
    {
        get => Volatile.Read(ref _leaseToken);
        set => Volatile.Write(ref _leaseToken, value);
    }
    public CancellationToken Token => _cancellation.Token;

    /// <summary>The first reason it was stopped for, or null while it runs on.</summary>
    public JobStopReason? StopReason => Volatile.Read(ref _reason) is var r and >= 0 ? (JobStopReason)r : null;

    public void Stop(JobStopReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, -1) != -1) return;
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It finished while being stopped.
        }
    }

    public void Dispose() => _cancellation.Dispose();
}
