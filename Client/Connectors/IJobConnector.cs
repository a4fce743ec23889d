using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Client.Connectors;

/// <summary>
/// Runs one job somewhere (a simulation, a process, an HTTP service) and returns its result. A failure the
/// job should carry is a <see cref="JobFailedException"/>; a revoked job cancels <paramref name="cancellationToken"/>.
/// Progress is 0–100 with an optional message.
/// </summary>
public interface IJobConnector
{
    Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken);
}

/// <summary>Where a connector runs: one instance per worker, so per GPU.</summary>
public sealed record ConnectorContext(string WorkerId, int GpuIndex);
