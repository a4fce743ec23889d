using System.Text.Json;
using Cluster.Grains.Streams;
using Cluster.Silo.Webhooks;

namespace Cluster.UnitTests.Webhooks;

public sealed class WebhookEventsTests
{
    private static StreamEvent JobEvent(string type, params (string, string)[] fields) =>
        new(EventStreams.Hooks, "1700000000123-4", new Dictionary<string, string>([new("type", type), .. fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))]));

    [Test]
    public void A_completed_job_event_becomes_a_body_with_the_job_its_result_and_when_it_happened()
    {
        var e = JobEvent("job_completed", ("job_id", "j1"), ("status", "completed"), ("job_type", "render"), ("workflow_id", "wf1"), ("result", """{"ok":true}"""));

        var id = WebhookEvents.DeliveryId(e);
        using var body = JsonDocument.Parse(WebhookEvents.Body(e, "job", id));
        var root = body.RootElement;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookEvents.Subject(e), Is.EqualTo(("job", "j1")));
            Assert.That(id, Is.EqualTo("wh-j-1700000000123-4"));
            Assert.That(root.GetProperty("delivery_id").GetString(), Is.EqualTo(id));
            Assert.That(root.GetProperty("event").GetString(), Is.EqualTo("job_completed"));
            Assert.That(root.GetProperty("occurred_at").GetString(), Is.EqualTo("2023-11-14T22:13:20.123Z"));
            var job = root.GetProperty("job");
            Assert.That(job.GetProperty("id").GetString(), Is.EqualTo("j1"));
            Assert.That(job.GetProperty("status").GetString(), Is.EqualTo("completed"));
            Assert.That(job.GetProperty("type").GetString(), Is.EqualTo("render"));
            Assert.That(job.GetProperty("workflow_id").GetString(), Is.EqualTo("wf1"));
            Assert.That(job.GetProperty("result").GetProperty("ok").GetBoolean(), Is.True);
        }
    }

    [Test]
    public void Terminal_events_are_always_wanted_and_failures_and_progress_only_when_asked_for()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookEvents.Wanted("job_completed", null), Is.True);
            Assert.That(WebhookEvents.Wanted("job_dead", null), Is.True);
            Assert.That(WebhookEvents.Wanted("job_cancelled", null), Is.True);
            Assert.That(WebhookEvents.Wanted("workflow_failed", null), Is.True);
            Assert.That(WebhookEvents.Wanted("job_failed", null), Is.False);
            Assert.That(WebhookEvents.Wanted("job_failed", "progress,failed"), Is.True);
            Assert.That(WebhookEvents.Wanted("job_progress", "failed"), Is.False);
            Assert.That(WebhookEvents.Subject(JobEvent("job_assigned", ("job_id", "j1"))), Is.Null);
        }
    }

    [Test]
    public void A_workflow_event_is_about_the_workflow()
    {
        var e = new StreamEvent(EventStreams.Hooks, "5-0", new Dictionary<string, string> { ["type"] = "workflow_failed", ["workflow_id"] = "wf9", ["status"] = "failed" });

        using var body = JsonDocument.Parse(WebhookEvents.Body(e, "workflow", WebhookEvents.DeliveryId(e)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookEvents.Subject(e), Is.EqualTo(("workflow", "wf9")));
            Assert.That(body.RootElement.GetProperty("delivery_id").GetString(), Is.EqualTo("wh-w-5-0"));
            Assert.That(body.RootElement.GetProperty("workflow").GetProperty("id").GetString(), Is.EqualTo("wf9"));
            Assert.That(body.RootElement.GetProperty("workflow").GetProperty("status").GetString(), Is.EqualTo("failed"));
        }
    }

    [Test]
    public void Retry_delays_double_from_the_first_and_stop_at_the_cap()
    {
        var options = new WebhookOptions { FirstRetryDelay = TimeSpan.FromSeconds(1), MaxRetryDelay = TimeSpan.FromSeconds(5) };
        Assert.That(Enumerable.Range(1, 5).Select(options.RetryDelay), Is.EqualTo(new[] { 1, 2, 4, 5, 5 }.Select(s => TimeSpan.FromSeconds(s))));
    }
}
