using System.Text;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.UnitTests.Validation;

public sealed class JsonInputTests
{
    private static byte[] Bytes(string before, byte[] raw, string after) => [.. Encoding.UTF8.GetBytes(before), .. raw, .. Encoding.UTF8.GetBytes(after)];

    [TestCase(new byte[] { 0xC3, 0x28 })]
    [TestCase(new byte[] { 0xFF })]
    [TestCase(new byte[] { 0x80 })]
    [TestCase(new byte[] { 0xC0, 0xAF })]
    [TestCase(new byte[] { 0xED, 0xA0, 0x80 })]
    [TestCase(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]
    [TestCase(new byte[] { 0xE2, 0x82 })]
    public void A_string_or_a_name_that_is_not_valid_utf8_is_refused(byte[] raw)
    {
        var inValue = JsonInput.FindProblem(Bytes("{\"type\":\"", raw, "\"}"));
        var inEscapedValue = JsonInput.FindProblem(Bytes("{\"type\":\"\\n", raw, "\"}"));
        var inName = JsonInput.FindProblem(Bytes("{\"", raw, "\":1}"));
        var deepInside = JsonInput.FindProblem(Bytes("{\"a\":[{\"b\":[\"ok\",\"", raw, "\"]}]}"));

        Assert.That(new[] { inValue, inEscapedValue, inName, deepInside }, Has.All.Contains("not valid text"));
    }

    [TestCase("""{"type":"\ud800"}""")]
    [TestCase("""{"type":"x\udc00y"}""")]
    [TestCase("""{"type":"\udfff\ud800"}""")]
    [TestCase("""{"type":"\ud83d\u0041"}""")]
    [TestCase("""{"\ud800":1}""")]
    public void An_escaped_half_of_a_surrogate_pair_is_refused(string json) =>
        Assert.That(JsonInput.FindProblem(Encoding.UTF8.GetBytes(json)), Does.Contain("not valid text"));

    [TestCase("""{"type":"a","type":"b"}""")]
    [TestCase("""{"a":{"b":1,"b":1}}""")]
    [TestCase("""[{"a":1},{"a":1,"\u0061":2}]""")]
    public void A_name_given_twice_in_one_object_is_refused(string json) =>
        Assert.That(JsonInput.FindProblem(Encoding.UTF8.GetBytes(json)), Does.Contain("named twice"));

    [TestCase("")]
    [TestCase("{")]
    [TestCase("{\"a\":1} x")]
    [TestCase("{'a':1}")]
    [TestCase("{\"a\":1,}")]
    public void Broken_syntax_is_refused_with_the_reader_s_message(string json) =>
        Assert.That(JsonInput.FindProblem(Encoding.UTF8.GetBytes(json)), Is.Not.Null);

    [Test]
    public void Nesting_stops_at_64_levels()
    {
        static byte[] Nested(int depth) => Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth));

        Assert.That(JsonInput.FindProblem(Nested(64)), Is.Null);
        Assert.That(JsonInput.FindProblem(Nested(65)), Does.Contain("depth"));
    }

    [Test]
    public void Text_in_any_script_escaped_or_not_and_the_same_name_in_different_objects_are_fine()
    {
        const string json = """{"a":"été 😀 \ud83d\ude00 \u00e9 \n","b":{"a":1},"c":[{"a":1},{"a":2}],"😀":null}""";

        var node = JsonInput.Parse(Encoding.UTF8.GetBytes(json), out var problem);

        Assert.That(problem, Is.Null);
        Assert.That(node!["a"]!.GetValue<string>(), Is.EqualTo("été 😀 😀 é \n"));
    }

    [Test]
    public void A_byte_order_mark_in_front_is_skipped()
    {
        var node = JsonInput.Parse([0xEF, 0xBB, 0xBF, .. "{\"type\":\"simulation\"}"u8], out var problem);

        Assert.That(problem, Is.Null);
        Assert.That(node, Is.InstanceOf<JsonObject>());
    }

    [Test]
    public void Parse_says_what_is_wrong_and_returns_nothing()
    {
        var node = JsonInput.Parse(Bytes("{\"type\":\"", [0xC3, 0x28], "\"}"), out var problem);

        Assert.That(node, Is.Null);
        Assert.That(problem, Does.Contain("at byte 8"));
    }
}
