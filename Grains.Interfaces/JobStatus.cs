namespace Cluster.Grains.Interfaces;

/// <summary>The states of a job, spelled as seed 001 stores them in <c>job:{id}</c>.</summary>
public static class JobStatus
{
    public const string Pending = "pending";
    public const string Waiting = "waiting";
    public const string Delayed = "delayed";
    public const string Assigned = "assigned";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Dead = "dead";
    public const string Cancelled = "cancelled";
}
