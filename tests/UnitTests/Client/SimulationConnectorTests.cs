using System.Text.Json.Nodes;
using Cluster.Client.Connectors;

namespace Cluster.UnitTests.Client;

public class SimulationConnectorTests
{
    [Test]
    public async Task A_failure_rate_of_zero_completes_with_a_simulated_result_and_progress_in_steps()
    {
        var connector = new SimulationConnector(TimeSpan.FromMilliseconds(10), failureRate: 0);
        var progress = new RecordingProgress();

        var result = await connector.RunAsync(TestJobs.With() with { WorkerId = "m1-gpu0" }, progress, TestJobs.Deadline());

        Assert.That(result!["simulated"]!.GetValue<bool>(), Is.True);
        Assert.That(result["duration_ms"]!.GetValue<long>(), Is.EqualTo(10));
        Assert.That(result["worker_id"]!.GetValue<string>(), Is.EqualTo("m1-gpu0"));
        Assert.That(progress.Reports, Has.Count.EqualTo(10));
        Assert.That(progress.Reports.Select(r => r.Progress), Is.Ordered);
        Assert.That(progress.Reports[^1].Progress, Is.EqualTo(100));
    }

    [Test]
    public void A_failure_rate_of_one_fails_every_job_with_SIMULATED_FAILURE()
    {
        var connector = new SimulationConnector(TimeSpan.FromMilliseconds(10), failureRate: 1);

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline()));

        Assert.That(failure!.Code, Is.EqualTo("SIMULATED_FAILURE"));
        Assert.That(failure.Retryable, Is.True);
    }

    [Test]
    public async Task The_payloads_duration_ms_overrides_the_default_duration()
    {
        // The default would outlast the test's deadline; only the override lets it finish.
        var connector = new SimulationConnector(TimeSpan.FromHours(1), failureRate: 0);
        var job = TestJobs.With(new JsonObject { ["type"] = "test-job", ["duration_ms"] = 20 });

        var result = await connector.RunAsync(job, new RecordingProgress(), TestJobs.Deadline());

        Assert.That(result!["duration_ms"]!.GetValue<long>(), Is.EqualTo(20));
    }

    [Test]
    public void A_negative_duration_ms_fails_the_job_as_not_retryable()
    {
        var connector = new SimulationConnector(TimeSpan.FromMilliseconds(10), failureRate: 0);
        var job = TestJobs.With(new JsonObject { ["duration_ms"] = -5 });

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(job, new RecordingProgress(), TestJobs.Deadline()));

        Assert.That(failure!.Code, Is.EqualTo("VALIDATION_ERROR"));
        Assert.That(failure.Retryable, Is.False);
    }

    [Test]
    public void Cancelling_the_run_stops_the_simulation()
    {
        var connector = new SimulationConnector(TimeSpan.FromHours(1), failureRate: 0);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.That(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
    }
}
