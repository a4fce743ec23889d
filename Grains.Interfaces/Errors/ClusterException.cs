namespace Cluster.Grains.Interfaces.Errors;

/// <summary>
/// A request the cluster refuses, with a stable machine-readable code (the HTTP API's <c>error.code</c>,
/// the protocol's error frame) and a message for people.
/// </summary>
[GenerateSerializer, Alias("Cluster.ClusterException")]
public sealed class ClusterException(string code, string message) : Exception(message)
{
    [Id(0)] public string Code { get; } = code;
}

/// <summary>The codes clients can rely on.</summary>
public static class ErrorCodes
{
    public const string ValidationError = "VALIDATION_ERROR";
    public const string JobNotFound = "JOB_NOT_FOUND";
    public const string WorkerNotFound = "WORKER_NOT_FOUND";
    public const string MachineNotFound = "MACHINE_NOT_FOUND";
    public const string WorkflowNotFound = "WORKFLOW_NOT_FOUND";
    public const string MachineIdRequired = "MACHINE_ID_REQUIRED";
    public const string StaleLease = "STALE_LEASE";
    public const string InvalidState = "INVALID_STATE";
    public const string DuplicateJob = "DUPLICATE_JOB";
    public const string WorkerOffline = "WORKER_OFFLINE";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Forbidden = "FORBIDDEN";
    public const string UnsupportedVersion = "UNSUPPORTED_VERSION";
    public const string NotFound = "NOT_FOUND";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string RateLimited = "RATE_LIMITED";
    public const string Internal = "INTERNAL_ERROR";
    /// <summary>The cluster could not answer now (a silo just died and its grains are being found again); ask again shortly.</summary>
    public const string Unavailable = "UNAVAILABLE";
}
