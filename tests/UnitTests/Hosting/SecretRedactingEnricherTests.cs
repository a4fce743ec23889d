using Cluster.Silo.Hosting;
using Serilog.Events;
using Serilog.Parsing;

namespace Cluster.UnitTests.Hosting;

public sealed class SecretRedactingEnricherTests
{
    [TestCase("?api_key=ck_secret&x=1", "?api_key=***&x=1")]
    [TestCase("?x=1&API_KEY=ck_secret", "?x=1&API_KEY=***")]
    [TestCase("redis:6379,password=hunter2,database=1", "redis:6379,password=***,database=1")]
    public void Secrets_in_text_are_masked(string text, string expected) =>
        Assert.That(SecretRedactingEnricher.Redact(text), Is.EqualTo(expected));

    [Test]
    public void Text_without_secrets_is_returned_unchanged()
    {
        const string text = "GET /api/keys?page=2";
        Assert.That(SecretRedactingEnricher.Redact(text), Is.SameAs(text));
    }

    [Test]
    public void A_log_event_property_carrying_a_key_is_masked()
    {
        var logEvent = new LogEvent(DateTimeOffset.UtcNow, LogEventLevel.Information, null,
            new MessageTemplateParser().Parse("Request starting {Path}{QueryString}"),
            [new LogEventProperty("Path", new ScalarValue("/ws")), new LogEventProperty("QueryString", new ScalarValue("?api_key=ck_secret"))]);

        new SecretRedactingEnricher().Enrich(logEvent, null!);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(logEvent.RenderMessage(), Does.Not.Contain("ck_secret"));
            Assert.That(logEvent.Properties["QueryString"].ToString(), Does.Contain("api_key=***"));
            Assert.That(logEvent.Properties["Path"].ToString(), Is.EqualTo("\"/ws\""));
        }
    }
}
