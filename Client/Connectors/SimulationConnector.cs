using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Client.Connectors;

/// <summary>
/// Pretends to work: waits the job's <c>duration_ms</c> (or the default) in steps, reporting progress, and fails
/// a share of jobs with <c>SIMULATED_FAILURE</c>. For load tests and demos without GPUs.
/// </summary>
public sealed class SimulationConnector : IJobConnector
{
    public const string FailureCode = "SIMULATED_FAILURE";
    private const int Steps = 10;

    private readonly TimeSpan _defaultDuration;
    private readonly double _failureRate;
    private readonly Random _random;

    public SimulationConnector(TimeSpan defaultDuration, double failureRate, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultDuration, TimeSpan.Zero);
        if (failureRate is < 0 or > 1 || double.IsNaN(failureRate))
            throw new ArgumentOutOfRangeException(nameof(failureRate), failureRate, "The failure rate is a share between 0 and 1.");
        _defaultDuration = defaultDuration;
        _failureRate = failureRate;
        _random = random ?? Random.Shared;
    }

    public async Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(progress);
        var duration = DurationOf(job);
        // Decided up front so that a failing job still spends half its time working, as real failures do.
        var fails = _failureRate > 0 && _random.NextDouble() < _failureRate;
        var failAfterStep = fails ? Steps / 2 : int.MaxValue;

        for (var step = 1; step <= Steps; step++)
        {
            await Task.Delay(duration / Steps, cancellationToken).ConfigureAwait(false);
            if (step >= failAfterStep)
                throw new JobFailedException(FailureCode, $"Simulated failure at {step * 100 / Steps}% (failure rate {_failureRate:0.##}).");
            progress.Report((step * 100.0 / Steps, $"step {step}/{Steps}"));
        }

        var result = new JsonObject { ["simulated"] = true, ["duration_ms"] = (long)duration.TotalMilliseconds };
        if (job.WorkerId is not null) result["worker_id"] = job.WorkerId;
        return result;
    }

    private TimeSpan DurationOf(JobState job)
    {
        if (job.Payload?["duration_ms"] is not JsonValue value) return _defaultDuration;
        // Read through the JSON text: a node built in code holds a long or an int, one parsed from the wire a JsonElement.
        if (value.GetValueKind() == System.Text.Json.JsonValueKind.Number
            && double.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms >= 0 && double.IsFinite(ms))
            return TimeSpan.FromMilliseconds(ms);
        throw new JobFailedException("VALIDATION_ERROR", "The payload's duration_ms must be a non-negative number.", retryable: false);
    }
}
