namespace Cluster.Client.Connectors;

/// <summary>A job attempt failed with a code for the job's <c>error</c>; <see cref="Retryable"/> says whether another attempt could succeed.</summary>
public sealed class JobFailedException(string code, string message, bool retryable = true) : Exception(message)
{
    public string Code { get; } = code;
    public bool Retryable { get; } = retryable;
}
