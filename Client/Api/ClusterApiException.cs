namespace Cluster.Client.Api;

/// <summary>
/// The silo refused an HTTP request: the status code and the <c>{code, message}</c> of its
/// <c>{"success": false, "error": …}</c> reply (or <c>HTTP_{status}</c> when the body had no such shape).
/// </summary>
public sealed class ClusterApiException(int statusCode, string code, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public string Code { get; } = code;
}
