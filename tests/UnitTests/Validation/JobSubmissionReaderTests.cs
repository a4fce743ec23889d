using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.UnitTests.Validation;

public sealed class JobSubmissionReaderTests
{
    private static readonly JobTypeCatalog Catalog = JobTypeCatalog.Default;

    private static (Cluster.Grains.Interfaces.Jobs.JobSubmission? Submission, string? Problem) Read(string json)
    {
        var submission = JobSubmissionReader.Read(JsonNode.Parse(json), Catalog, out var problem);
        return (submission, problem);
    }

    [Test]
    public void A_seed_style_body_keeps_the_whole_body_as_payload_and_reads_the_reserved_fields()
    {
        var (submission, problem) = Read("""
            {"type":"text-to-image","prompt":"A serene landscape","parameters":{"width":512,"height":512,"steps":20},
             "priority":60,"max_retries":2,"requirements":{"gpu_memory":8,"model_type":"stable-diffusion","capabilities":["text-to-image"],"pool_preference":"fast-lane"}}
            """);

        Assert.That(problem, Is.Null);
        Assert.That(submission!.Type, Is.EqualTo("text-to-image"));
        Assert.That(submission.Priority, Is.EqualTo(60));
        Assert.That(submission.MaxRetries, Is.EqualTo(2));
        Assert.That(submission.Payload["prompt"]!.ToString(), Is.EqualTo("A serene landscape"));
        Assert.That(submission.Payload["priority"]!.GetValue<int>(), Is.EqualTo(60));
        Assert.That(submission.Requirements!.Capabilities, Is.EqualTo(new[] { "text-to-image" }));
        Assert.That(submission.Requirements.PoolPreference, Is.EqualTo("fast-lane"));
    }

    [TestCase("""{"type":"invalid-type","parameters":{}}""", "unknown job type 'invalid-type'")]
    [TestCase("""{"type":"text-to-image","parameters":{}}""", "'prompt' is required")]
    [TestCase("""{"type":"text-to-image","prompt":42}""", "'prompt' must be string")]
    [TestCase("""{"type":"text-to-image","prompt":"x","parameters":{"width":10}}""", "'parameters.width' must be at least 64")]
    [TestCase("""{"type":"text-to-image","prompt":"x","priority":-1}""", "'priority' must be a whole number from 0 to 1000")]
    [TestCase("""{"type":"text-to-image","prompt":"x","priority":"high"}""", "'priority' must be a whole number")]
    [TestCase("""{"type":"text-to-image","prompt":"x","priority":1.5}""", "'priority' must be a whole number")]
    [TestCase("""{"type":"text-to-image","prompt":"x","max_retries":1000}""", "'max_retries' must be a whole number from 0 to 100")]
    [TestCase("""{"type":"text-to-image","prompt":"x","requirements":[]}""", "'requirements' must be an object")]
    [TestCase("""{"type":"text-to-image","prompt":"x","requirements":{"capabilities":"gpu"}}""", "'requirements.capabilities' must be an array")]
    [TestCase("""{"type":"text-to-image","prompt":"x","requirements":{"gpu_memory":-4}}""", "'requirements.gpu_memory' must be a number")]
    [TestCase("""{"type":"text-to-image","prompt":"x","requirements":{"pool_preference":"turbo"}}""", "'requirements.pool_preference' must be one of")]
    [TestCase("""{"type":"text-to-image","prompt":"x","webhook_url":"ftp://example.test/x"}""", "'webhook_url' must be an absolute http or https URL")]
    [TestCase("""{"type":"text-to-image","prompt":"x","webhook_url":"https://example.test/x","webhook_events":["completed"]}""", "'webhook_events' must be an array of")]
    [TestCase("""{"type":"text-to-image","prompt":"x","webhook_url":"https://example.test/x","webhook_events":"failed"}""", "'webhook_events' must be an array of")]
    [TestCase("""{"type":"text-to-image","prompt":"x","webhook_events":["failed"]}""", "'webhook_events' needs a 'webhook_url'")]
    [TestCase("""{"prompt":"x"}""", "'type' is required")]
    [TestCase("""["text-to-image"]""", "must be a JSON object")]
    public void An_invalid_submission_is_refused_with_a_message_naming_the_problem(string json, string expected)
    {
        var (submission, problem) = Read(json);

        Assert.That(submission, Is.Null);
        Assert.That(problem, Does.Contain(expected));
        Assert.That(problem, Does.StartWith("Validation failed"));
    }

    [Test]
    public void Optional_webhook_events_are_read_without_repeats()
    {
        var (submission, problem) = Read("""{"type":"text-to-image","prompt":"x","webhook_url":"https://example.test/x","webhook_events":["progress","failed","progress"]}""");

        Assert.That(problem, Is.Null);
        Assert.That(submission!.WebhookEvents, Is.EqualTo(new[] { "failed", "progress" }));
    }

    [Test]
    public void The_catalog_can_add_a_type_from_configuration()
    {
        var catalog = JobTypeCatalog.Default.With([new JobType("transcribe", "Speech to text",
            JsonNode.Parse("""{"type":"object","required":["audio_url"],"properties":{"audio_url":{"type":"string"}}}""")!.AsObject())]);

        Assert.That(catalog.FindProblem("transcribe", new JsonObject { ["audio_url"] = "https://x.test/a.wav" }), Is.Null);
        Assert.That(catalog.FindProblem("transcribe", new JsonObject()), Does.Contain("'audio_url' is required"));
        Assert.That(catalog.FindProblem("text-to-image", new JsonObject { ["prompt"] = "still there" }), Is.Null);
    }
}
