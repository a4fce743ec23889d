namespace Cluster.Client.Api;

/// <summary>The silo answered a worker's frame with an <c>error</c> frame, or the frame could not be sent.</summary>
public sealed class WorkerProtocolException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>The worker's WebSocket closed (or was aborted) before the silo answered.</summary>
public sealed class WorkerConnectionClosedException(string message, Exception? inner = null) : Exception(message, inner);
