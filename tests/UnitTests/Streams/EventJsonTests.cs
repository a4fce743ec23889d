using System.Text.Json.Nodes;
using Cluster.Grains.Streams;

namespace Cluster.UnitTests.Streams;

public sealed class EventJsonTests
{
    private static IEnumerable<TestCaseData> Events()
    {
        yield return new TestCaseData("job_submitted", new Dictionary<string, string>
        {
            ["job_id"] = "j-1", ["status"] = "pending", ["job_type"] = "simulation", ["priority"] = "50", ["retry_count"] = "0",
        }).SetName("numbers as numbers");
        yield return new TestCaseData("job_progress", new Dictionary<string, string>
        {
            ["job_id"] = "j-2", ["progress"] = "42.5", ["message"] = "half \"way\" <there> é",
        }).SetName("a fractional number and a string to escape");
        yield return new TestCaseData("job_completed", new Dictionary<string, string>
        {
            ["job_id"] = "j-3", ["result"] = "{\"images\":[\"a.png\"],\"n\":2,\"ok\":true}",
        }).SetName("an embedded result");
        yield return new TestCaseData("job_completed", new Dictionary<string, string> { ["job_id"] = "j-4", ["result"] = "null" })
            .SetName("a null result");
        yield return new TestCaseData("job_failed", new Dictionary<string, string>
        {
            ["job_id"] = "j-5", ["error"] = "not json {", ["will_retry"] = "1", ["retry_at"] = "not a number",
        }).SetName("fields that do not parse stay text");
    }

    [TestCaseSource(nameof(Events))]
    public void The_text_of_an_event_is_the_json_of_its_type_and_fields(string type, Dictionary<string, string> fields)
    {
        var text = EventJson.ToJsonText(type, fields);

        var expected = EventJson.ToJson(fields.Prepend(new("type", type)));
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(text), expected), Is.True, text + " is not " + expected.ToJsonString());
    }
}
