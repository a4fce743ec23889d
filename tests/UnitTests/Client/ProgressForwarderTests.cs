using System.Collections.Concurrent;
using Cluster.Client.Agent;

namespace Cluster.UnitTests.Client;

public class ProgressForwarderTests
{
    [Test]
    public async Task A_burst_of_reports_sends_the_first_and_on_flush_only_the_latest()
    {
        var sent = new ConcurrentQueue<double>();
        var firstSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var forwarder = new ProgressForwarder((value, _) =>
        {
            sent.Enqueue(value);
            firstSent.TrySetResult();
            return Task.CompletedTask;
        }, interval: TimeSpan.FromHours(1));

        forwarder.Report((1, null));
        await firstSent.Task.WaitAsync(TestJobs.Deadline());
        for (var i = 2; i <= 100; i++) forwarder.Report((i, null));
        await forwarder.FlushAsync().WaitAsync(TestJobs.Deadline());

        Assert.That(sent, Is.EqualTo(new[] { 1.0, 100.0 }));
    }

    [Test]
    public async Task Nothing_is_sent_after_a_flush_that_drops_what_waits()
    {
        var sent = new ConcurrentQueue<double>();
        var firstSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var forwarder = new ProgressForwarder((value, _) =>
        {
            sent.Enqueue(value);
            firstSent.TrySetResult();
            return Task.CompletedTask;
        }, interval: TimeSpan.FromHours(1));

        forwarder.Report((10, null));
        await firstSent.Task.WaitAsync(TestJobs.Deadline());
        forwarder.Report((20, null));
        await forwarder.FlushAsync(sendPending: false).WaitAsync(TestJobs.Deadline());
        forwarder.Report((30, null));

        Assert.That(sent, Is.EqualTo(new[] { 10.0 }));
    }

    [Test]
    public async Task A_failed_send_is_reported_and_does_not_escape()
    {
        var failures = new ConcurrentQueue<Exception>();
        var forwarder = new ProgressForwarder((_, _) => throw new TimeoutException("no ack"), TimeSpan.FromHours(1), failures.Enqueue);

        forwarder.Report((10, "x"));
        await forwarder.FlushAsync().WaitAsync(TestJobs.Deadline());

        Assert.That(failures.Single(), Is.InstanceOf<TimeoutException>());
    }
}
