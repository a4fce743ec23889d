using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.UnitTests.Validation;

public sealed class PayloadSchemaTests
{
    private static string? Problem(string schema, string value) =>
        PayloadSchema.FindProblem(JsonNode.Parse(schema)!.AsObject(), JsonNode.Parse(value));

    [TestCase("""{"type":"integer"}""", "3", true)]
    [TestCase("""{"type":"integer"}""", "3.5", false)]
    [TestCase("""{"type":"number"}""", "3", true)]
    [TestCase("""{"type":["string","null"]}""", "null", true)]
    [TestCase("""{"enum":["a","b"]}""", "\"c\"", false)]
    [TestCase("""{"type":"string","maxLength":3}""", "\"abcd\"", false)]
    [TestCase("""{"type":"array","items":{"type":"string"},"maxItems":2}""", """["a","b","c"]""", false)]
    [TestCase("""{"type":"array","items":{"type":"string"}}""", """["a",1]""", false)]
    [TestCase("""{"type":"object","additionalProperties":false,"properties":{"a":{}}}""", """{"b":1}""", false)]
    [TestCase("""{"type":"object","properties":{"n":{"type":"number","maximum":10}}}""", """{"n":11}""", false)]
    public void Values_are_checked_against_the_supported_keywords(string schema, string value, bool valid) =>
        Assert.That(Problem(schema, value), valid ? Is.Null : Is.Not.Null);

    [Test]
    public void A_problem_deep_in_the_value_names_its_path() =>
        Assert.That(Problem("""{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"array","items":{"type":"integer"}}}}}}""", """{"a":{"b":[1,"x"]}}"""),
            Does.Contain("'a.b[1]' must be integer"));
}
