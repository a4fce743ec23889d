namespace Cluster.Grains.Interfaces.Jobs;

/// <summary>The states of a job, spelled as seed 001 stores them in <c>job:{id}</c>.</summary>
public static class JobStatus
{
    /// <summary>A workflow step whose dependencies have not all completed.</summary>
    public const string Waiting = "waiting";
    /// <summary>Claimable: in <c>jobs:pending</c>.</summary>
    public const string Pending = "pending";
    /// <summary>Failed, and waiting out its retry backoff.</summary>
    public const string Delayed = "delayed";
    /// <summary>Claimed by a worker under a lease, not yet reported progress.</summary>
    public const string Assigned = "assigned";
    public const string Running = "running";
    public const string Completed = "completed";
    /// <summary>Failed with no retries left.</summary>
    public const string Dead = "dead";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
        { Waiting, Pending, Delayed, Assigned, Running, Completed, Dead, Cancelled };

    public static bool IsTerminal(string status) => status is Completed or Dead or Cancelled;

    /// <summary>A worker holds the job under a lease.</summary>
    public static bool IsHeld(string status) => status is Assigned or Running;
}
