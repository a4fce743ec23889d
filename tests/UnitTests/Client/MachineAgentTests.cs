using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Cluster.Client.Agent;
using Cluster.Client.Connectors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Testing;

namespace Cluster.UnitTests.Client;

public class MachineAgentTests
{
    private FakeSilo _silo = null!;
    private StringWriter _log = null!;
    private CancellationTokenSource _stop = null!;

    [SetUp]
    public void Start()
    {
        _silo = new FakeSilo();
        _log = new StringWriter();
        _stop = new CancellationTokenSource();
    }

    [TearDown]
    public void Stop()
    {
        // The agent's own lines explain a failure better than a timeout does.
        if (TestContext.CurrentContext.Result.Outcome.Status != NUnit.Framework.Interfaces.TestStatus.Passed) TestContext.Out.WriteLine(_log.ToString());
        _stop.Cancel();
        _stop.Dispose();
        _silo.Dispose();
        _log.Dispose();
    }

    private AgentSettings Settings(int gpus = 1, string connector = "simulation", TimeSpan? drain = null) => new()
    {
        Silo = _silo.Address,
        ApiKey = FakeSilo.ApiKey,
        MachineId = "gpu-box-1",
        GpuCount = gpus,
        GpuMemory = 24,
        DrainTimeout = drain ?? TimeSpan.FromSeconds(30),
        Connector = new ConnectorSettings { Kind = connector, SimulationDuration = TimeSpan.FromMilliseconds(10) },
    };

    private WorkerRunner Runner(IJobConnector connector, AgentSettings? settings = null) =>
        new(settings ?? Settings(), 0, connector, new AgentLog(TextWriter.Synchronized(_log)))
        {
            Backoff = new Backoff(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)),
            ProgressInterval = TimeSpan.FromMilliseconds(10),
        };

    private async Task<(SiloSession Session, JsonObject Register)> NextRegistrationAsync()
    {
        var session = await _silo.NextSessionAsync(TestJobs.Deadline());
        return (session, await session.NextFrameAsync(TestJobs.Deadline()));
    }

    [Test]
    public async Task An_agent_for_three_GPUs_registers_three_workers_one_per_GPU()
    {
        var agent = new MachineAgent(Settings(gpus: 3), new AgentLog(TextWriter.Synchronized(_log)));
        var run = agent.RunAsync(_stop.Token);

        var registrations = new List<JsonObject>();
        for (var i = 0; i < 3; i++) registrations.Add((await NextRegistrationAsync()).Register);
        await _stop.CancelAsync();

        Assert.That(registrations.Select(r => r["worker_id"]!.GetValue<string>()).Order(),
            Is.EqualTo(new[] { "gpu-box-1-gpu0", "gpu-box-1-gpu1", "gpu-box-1-gpu2" }));
        Assert.That(registrations.Select(r => r["gpu_index"]!.GetValue<int>()).Order(), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(registrations.Select(r => r["gpu_count"]!.GetValue<int>()), Is.All.EqualTo(3));
        Assert.That(registrations.Select(r => r["machine_id"]!.GetValue<string>()), Is.All.EqualTo("gpu-box-1"));
        Assert.That(await run.WaitAsync(TestJobs.Deadline()), Is.EqualTo(0));
    }

    [Test]
    public async Task A_worker_runs_an_assigned_job_reports_progress_and_completes_it_with_the_result()
    {
        var run = Runner(new SimulationConnector(TimeSpan.FromMilliseconds(10), 0)).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1", lease: "lease-1"));
        var frames = new List<JsonObject>();
        while (frames.LastOrDefault()?["type"]?.GetValue<string>() != "complete") frames.Add(await session.NextFrameAsync(TestJobs.Deadline()));

        Assert.That(frames.SkipLast(1).Select(f => f["type"]!.GetValue<string>()), Is.Not.Empty.And.All.EqualTo("progress"));
        Assert.That(frames.Select(f => f["lease_token"]!.GetValue<string>()), Is.All.EqualTo("lease-1"));
        var result = frames[^1]["result"]!;
        Assert.That(result["simulated"]!.GetValue<bool>(), Is.True);
        Assert.That(result["worker_id"]!.GetValue<string>(), Is.EqualTo("gpu-box-1-gpu0"));
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task A_failing_connector_fails_the_job_with_its_code_and_retryable_flag()
    {
        var run = Runner(new FailingConnector(new JobFailedException("HTTP_400", "bad request", retryable: false))).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1"));
        var fail = await session.NextFrameAsync(TestJobs.Deadline());

        Assert.That(fail["type"]!.GetValue<string>(), Is.EqualTo("fail"));
        Assert.That(fail["job_id"]!.GetValue<string>(), Is.EqualTo("job-1"));
        Assert.That(fail["error"]!["code"]!.GetValue<string>(), Is.EqualTo("HTTP_400"));
        Assert.That(fail["retryable"]!.GetValue<bool>(), Is.False);
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task A_revoked_job_cancels_the_connectors_run_and_nothing_more_is_said_about_it()
    {
        var connector = new BlockingConnector();
        var run = Runner(connector).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1"));
        await connector.Started.WaitAsync(TestJobs.Deadline());
        await session.SendAsync(new JsonObject { ["v"] = 1, ["type"] = "job_revoked", ["job_id"] = "job-1", ["reason"] = "cancelled" });
        await connector.Cancelled.WaitAsync(TestJobs.Deadline());
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
        await session.Ended.WaitAsync(TestJobs.Deadline());

        Assert.That(session.Drain().Select(f => f["type"]!.GetValue<string>()), Has.None.EqualTo("fail").And.None.EqualTo("complete"));
    }

    [Test]
    public async Task A_job_assigned_again_while_it_runs_goes_on_under_the_new_lease_and_runs_once()
    {
        var connector = new BlockingConnector();
        var run = Runner(connector).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1", lease: "lease-1"));
        await connector.Started.WaitAsync(TestJobs.Deadline());
        // A silo that lost track of the hold (its silo died) hands the running job to the same worker again.
        await session.SendAsync(FakeSilo.JobAssigned("job-1", lease: "lease-2"));
        await Eventually.UntilAsync(() => Task.FromResult(_log.ToString().Contains("goes on under the new lease", StringComparison.Ordinal)), "the repeat is taken");
        connector.Finish(new JsonObject { ["ok"] = true });
        JsonObject frame;
        do frame = await session.NextFrameAsync(TestJobs.Deadline());
        while (frame["type"]!.GetValue<string>() != "complete");

        Assert.That(frame["lease_token"]!.GetValue<string>(), Is.EqualTo("lease-2"));
        Assert.That(connector.Runs, Is.EqualTo(1));
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task A_completion_refused_under_a_lease_replaced_meanwhile_is_sent_again_under_the_new_one()
    {
        var connector = new BlockingConnector();
        var run = Runner(connector).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();
        var refusedFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _silo.Reply = frame =>
        {
            if (frame["type"]?.GetValue<string>() != "complete" || frame["lease_token"]?.GetValue<string>() != "lease-1") return _silo.DefaultReply(frame);
            // The completion under the old lease is answered only once the job has been assigned again.
            refusedFirst.TrySetResult();
            release.Task.Wait(TestJobs.Deadline());
            return FakeSilo.ErrorReply(frame, "LEASE_LOST", "the lease is no longer valid");
        };

        await session.SendAsync(FakeSilo.JobAssigned("job-1", lease: "lease-1"));
        await connector.Started.WaitAsync(TestJobs.Deadline());
        connector.Finish(new JsonObject { ["ok"] = true });
        await refusedFirst.Task.WaitAsync(TestJobs.Deadline());
        await session.SendAsync(FakeSilo.JobAssigned("job-1", lease: "lease-2"));
        await Eventually.UntilAsync(() => Task.FromResult(_log.ToString().Contains("goes on under the new lease", StringComparison.Ordinal)), "the repeat is taken");
        release.TrySetResult();
        var completions = new List<JsonObject>();
        while (completions.Count < 2)
        {
            var frame = await session.NextFrameAsync(TestJobs.Deadline());
            if (frame["type"]!.GetValue<string>() == "complete") completions.Add(frame);
        }

        Assert.That(completions.Select(c => c["lease_token"]!.GetValue<string>()), Is.EqualTo(new[] { "lease-1", "lease-2" }));
        Assert.That(connector.Runs, Is.EqualTo(1));
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task A_worker_reconnects_and_registers_again_after_the_silo_drops_the_connection()
    {
        var run = Runner(new SimulationConnector(TimeSpan.FromMilliseconds(10), 0)).RunAsync(_stop.Token);
        var (first, _) = await NextRegistrationAsync();

        first.Abort();
        var (second, register) = await NextRegistrationAsync();
        await second.SendAsync(FakeSilo.JobAssigned("job-2"));
        JsonObject frame;
        do frame = await second.NextFrameAsync(TestJobs.Deadline());
        while (frame["type"]!.GetValue<string>() != "complete");

        Assert.That(register["worker_id"]!.GetValue<string>(), Is.EqualTo("gpu-box-1-gpu0"));
        Assert.That(frame["job_id"]!.GetValue<string>(), Is.EqualTo("job-2"));
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task A_worker_whose_silo_drops_it_registers_with_the_failover_silo_next()
    {
        using var other = new FakeSilo();
        var run = Runner(new SimulationConnector(TimeSpan.FromMilliseconds(10), 0), Settings() with { FailoverSilos = [other.Address] }).RunAsync(_stop.Token);
        var (first, _) = await NextRegistrationAsync();

        first.Abort();
        var second = await other.NextSessionAsync(TestJobs.Deadline());
        var register = await second.NextFrameAsync(TestJobs.Deadline());

        Assert.That(register["type"]!.GetValue<string>(), Is.EqualTo("register"));
        Assert.That(register["worker_id"]!.GetValue<string>(), Is.EqualTo("gpu-box-1-gpu0"));
        await _stop.CancelAsync();
        await run.WaitAsync(TestJobs.Deadline());
    }

    [Test]
    public async Task Stopping_fails_a_job_that_outlasts_the_drain_timeout_as_retryable_and_closes_the_socket()
    {
        var connector = new BlockingConnector();
        var run = Runner(connector, Settings(drain: TimeSpan.Zero)).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1"));
        await connector.Started.WaitAsync(TestJobs.Deadline());
        await _stop.CancelAsync();
        var fail = await session.NextFrameAsync(TestJobs.Deadline());
        await run.WaitAsync(TestJobs.Deadline());
        await session.Ended.WaitAsync(TestJobs.Deadline());

        Assert.That(fail["type"]!.GetValue<string>(), Is.EqualTo("fail"));
        Assert.That(fail["error"]!["code"]!.GetValue<string>(), Is.EqualTo("WORKER_STOPPING"));
        Assert.That(fail["retryable"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Stopping_lets_a_running_job_finish_within_the_drain_timeout()
    {
        var connector = new BlockingConnector();
        var run = Runner(connector).RunAsync(_stop.Token);
        var (session, _) = await NextRegistrationAsync();

        await session.SendAsync(FakeSilo.JobAssigned("job-1"));
        await connector.Started.WaitAsync(TestJobs.Deadline());
        await _stop.CancelAsync();
        connector.Finish(new JsonObject { ["done"] = true });
        var complete = await session.NextFrameAsync(TestJobs.Deadline());
        await run.WaitAsync(TestJobs.Deadline());

        Assert.That(complete["type"]!.GetValue<string>(), Is.EqualTo("complete"));
        Assert.That(complete["result"]!["done"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public void A_worker_whose_key_is_refused_stops_instead_of_retrying_forever()
    {
        var settings = Settings() with { ApiKey = "wrong-key" };

        Assert.That(() => Runner(new BlockingConnector(), settings).RunAsync(_stop.Token).WaitAsync(TestJobs.Deadline()),
            Throws.InstanceOf<WorkerFatalException>().With.Message.Contains("UNAUTHORIZED"));
    }

    private sealed class FailingConnector(Exception failure) : IJobConnector
    {
        public Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken) =>
            Task.FromException<JsonNode?>(failure);
    }

    /// <summary>Runs until the test finishes it or the run is cancelled, and says when each happens.</summary>
    private sealed class BlockingConnector : IJobConnector
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<JsonNode?> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => _started.Task;
        public Task Cancelled => _cancelled.Task;

        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        public void Finish(JsonNode? result) => _result.TrySetResult(result);

        public async Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            _started.TrySetResult();
            try
            {
                return await _result.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Not a token registration: the cancelled WaitAsync may resume inline and unregister it before it runs.
                _cancelled.TrySetResult();
                throw;
            }
        }
    }
}
