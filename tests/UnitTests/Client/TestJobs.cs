using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.UnitTests.Client;

internal static class TestJobs
{
    public static JobState With(JsonObject? payload = null, string id = "job-1") =>
        new() { Id = id, Type = "test-job", Status = JobStatus.Assigned, Payload = payload ?? new JsonObject { ["type"] = "test-job" } };

    /// <summary>A generous upper bound for things that should take milliseconds; only a hang ever reaches it.</summary>
    public static CancellationToken Deadline(int seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}

/// <summary>Collects progress reports synchronously (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
internal sealed class RecordingProgress : IProgress<(double progress, string? message)>
{
    private readonly List<(double, string?)> _reports = [];
    private readonly TaskCompletionSource<(double, string?)> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<(double Progress, string? Message)> First => _first.Task;

    public IReadOnlyList<(double Progress, string? Message)> Reports
    {
        get
        {
            lock (_reports) return [.. _reports];
        }
    }

    public void Report((double progress, string? message) value)
    {
        lock (_reports) _reports.Add(value);
        _first.TrySetResult(value);
    }
}
