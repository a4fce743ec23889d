using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Client.Api;

/// <summary>A submitted job: its id, and whether the silo returned an earlier job for the same idempotency key.</summary>
public sealed record SubmitResult(string JobId, bool Duplicate);

/// <summary>Filters for <see cref="ClusterClient.ListJobsAsync"/>; all optional.</summary>
public sealed record JobListFilter
{
    public string? Status { get; init; }
    public string? Type { get; init; }
    public string? Worker { get; init; }
    public string? Machine { get; init; }
    public string? Workflow { get; init; }
}

// The reply bodies of docs/api.md, read with ClusterJson.Options (snake_case).
internal sealed record ErrorReply(ErrorReplyBody? Error);
internal sealed record ErrorReplyBody(string? Code, string? Message);
internal sealed record SubmitReply(string JobId, bool Duplicate);
internal sealed record BatchReply(IReadOnlyList<string> JobIds);
internal sealed record StatusReply(JobState Job);
internal sealed record TransitionReply(string JobId, string Status);
internal sealed record JobsReply(IReadOnlyList<JobState> Jobs, string? NextCursor);
internal sealed record WorkersReply(IReadOnlyList<WorkerState> Workers, string? NextCursor);
internal sealed record MachinesReply(IReadOnlyList<MachineState> Machines, string? NextCursor);
internal sealed record MachineReply(MachineState Machine);
