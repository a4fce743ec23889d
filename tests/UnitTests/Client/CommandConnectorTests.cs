using System.Text.Json.Nodes;
using Cluster.Client.Connectors;
using Cluster.Testing;

namespace Cluster.UnitTests.Client;

[Platform(Exclude = "Win")]
public class CommandConnectorTests
{
    private static readonly ConnectorContext Context = new("m1-gpu1", 1);

    [Test]
    public async Task Progress_lines_become_progress_and_the_RESULT_line_becomes_the_result()
    {
        var connector = new CommandConnector("""echo "PROGRESS 25 loading model"; echo "PROGRESS 75"; echo 'RESULT {"image":"a.png"}'""", Context);
        var progress = new RecordingProgress();

        var result = await connector.RunAsync(TestJobs.With(), progress, TestJobs.Deadline());

        Assert.That(result!["image"]!.GetValue<string>(), Is.EqualTo("a.png"));
        Assert.That(progress.Reports, Is.EqualTo(new[] { (25.0, (string?)"loading model"), (75.0, (string?)null) }));
    }

    [Test]
    public async Task The_payload_arrives_on_stdin_as_JSON()
    {
        var connector = new CommandConnector("""read line; echo "RESULT $line" """, Context);
        var payload = new JsonObject { ["type"] = "test-job", ["prompt"] = "a lighthouse" };

        var result = await connector.RunAsync(TestJobs.With(payload), new RecordingProgress(), TestJobs.Deadline());

        Assert.That(JsonNode.DeepEquals(result, payload), Is.True, result?.ToJsonString());
    }

    [Test]
    public async Task Without_a_RESULT_line_the_other_output_is_the_result()
    {
        var connector = new CommandConnector("echo hello; echo 'PROGRESS 50'; echo world", Context);

        var result = await connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline());

        Assert.That(result!["output"]!.GetValue<string>(), Is.EqualTo("hello\nworld"));
    }

    [Test]
    public void A_non_zero_exit_fails_with_COMMAND_FAILED_and_the_end_of_stderr()
    {
        var connector = new CommandConnector("echo 'out of memory' >&2; exit 3", Context);

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline()));

        Assert.That(failure!.Code, Is.EqualTo("COMMAND_FAILED"));
        Assert.That(failure.Message, Does.Contain("code 3").And.Contain("out of memory"));
    }

    [Test]
    public void A_RESULT_line_that_is_not_JSON_fails_as_not_retryable()
    {
        var connector = new CommandConnector("echo 'RESULT {not json'", Context);

        var failure = Assert.ThrowsAsync<JobFailedException>(() => connector.RunAsync(TestJobs.With(), new RecordingProgress(), TestJobs.Deadline()));

        Assert.That(failure!.Code, Is.EqualTo("INVALID_RESULT"));
        Assert.That(failure.Retryable, Is.False);
    }

    [Test]
    public async Task The_command_learns_its_job_and_sees_only_its_own_GPU()
    {
        var connector = new CommandConnector("""echo "RESULT {\"job\":\"$CLUSTER_JOB_ID\",\"worker\":\"$CLUSTER_WORKER_ID\",\"gpu\":\"$CUDA_VISIBLE_DEVICES\"}" """, Context);

        var result = await connector.RunAsync(TestJobs.With(id: "job-42"), new RecordingProgress(), TestJobs.Deadline());

        Assert.That(result!["job"]!.GetValue<string>(), Is.EqualTo("job-42"));
        Assert.That(result["worker"]!.GetValue<string>(), Is.EqualTo("m1-gpu1"));
        Assert.That(result["gpu"]!.GetValue<string>(), Is.EqualTo(CommandConnector.VisibleDevice(Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"), 1)));
    }

    [Test]
    public void A_worker_picks_its_device_from_the_agents_device_list()
    {
        Assert.That(CommandConnector.VisibleDevice("2,3", 1), Is.EqualTo("3"));
        Assert.That(CommandConnector.VisibleDevice(null, 1), Is.EqualTo("1"));
        Assert.That(CommandConnector.VisibleDevice("5", 1), Is.EqualTo("1"));
    }

    [Test]
    public async Task Cancelling_the_run_kills_the_command_and_its_children()
    {
        // The shell starts a child and reports its pid; cancellation must take the child down too.
        var connector = new CommandConnector("""sleep 600 & echo "PROGRESS 10 $!"; wait""", Context);
        var progress = new RecordingProgress();
        using var cancellation = new CancellationTokenSource();

        var run = connector.RunAsync(TestJobs.With(), progress, cancellation.Token);
        var started = await progress.First.WaitAsync(TestJobs.Deadline());
        var childPid = int.Parse(started.Message!, System.Globalization.CultureInfo.InvariantCulture);
        await cancellation.CancelAsync();

        Assert.That(async () => await run.WaitAsync(TestJobs.Deadline()), Throws.InstanceOf<OperationCanceledException>());
        await Eventually.UntilAsync(() => Task.FromResult(!ProcessTools.IsAlive(childPid)), "the child sleep should be killed");
    }

    [TestCase("PROGRESS 42.5 halfway there", 42.5, "halfway there")]
    [TestCase("PROGRESS 150", 100.0, null)]
    [TestCase("PROGRESS 7   ", 7.0, null)]
    public void Progress_lines_are_parsed_and_clamped(string line, double expected, string? message)
    {
        Assert.That(CommandConnector.TryParseProgress(line, out var update), Is.True);
        Assert.That(update, Is.EqualTo((expected, message)));
    }

    [TestCase("PROGRESS")]
    [TestCase("PROGRESS abc")]
    [TestCase("progress 5")]
    public void Lines_that_only_look_like_progress_are_output(string line)
    {
        Assert.That(CommandConnector.TryParseProgress(line, out _), Is.False);
    }
}
