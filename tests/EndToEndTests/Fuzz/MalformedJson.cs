using System.Text;
using System.Text.Json.Nodes;

namespace Cluster.EndToEndTests.Fuzz;

/// <summary>The JSON kinds a field may hold; a field's wrong values are drawn from the kinds it does not accept.</summary>
[Flags]
internal enum JsonKinds
{
    None = 0,
    String = 1,
    /// <summary>Whole numbers in the usual ranges.</summary>
    Integer = 2,
    /// <summary>Fractions and numbers far out of any range; a field that takes numbers takes integers too.</summary>
    Number = 4 | Integer,
    Boolean = 8,
    Array = 16,
    Object = 32,
}

/// <summary>
/// A field the silo checks, at a path such as <c>requirements.gpu_memory</c> or <c>steps[1].depends_on</c>, with the kinds it
/// accepts and values of those kinds it must still refuse. Only fields whose every listed wrong value makes the whole
/// body invalid belong here: a body with one such field changed is refused, so sending it can never change state.
/// </summary>
internal sealed record FieldSpec(string Path, JsonKinds Accepts, bool Required = false, params string[] Invalid)
{
    /// <summary>Values of each kind, as raw JSON; none of them is a whole number from 0 to 1000 unless it is an Integer.</summary>
    private static readonly (JsonKinds Kind, string[] Values)[] Pools =
    [
        (JsonKinds.String, ["\"fuzz\"", "\"\"", "\" \"", "\"\\u00e9t\\u00e9 \\ud83d\\ude00\"", "\"1\"", "\"true\""]),
        (JsonKinds.Integer, ["0", "5", "-1", "1001", "2147483648"]),
        (JsonKinds.Number & ~JsonKinds.Integer, ["1.5", "-0.25", "1e400", "-1e400", "123456789012345678901234567890", "1.7976931348623157e309"]),
        (JsonKinds.Boolean, ["true", "false"]),
        (JsonKinds.Array, ["[]", "[1,\"a\",null]", "[[[]]]", "[{}]"]),
        (JsonKinds.Object, ["{}", "{\"a\":1}", "{\"\":null}"]),
    ];

    /// <summary>A value this field must refuse: of a kind it does not accept, null when it is required, or one of <see cref="Invalid"/>.</summary>
    public string WrongValue(Random random)
    {
        var choices = new List<string>(Invalid);
        foreach (var (kind, values) in Pools)
            if ((Accepts & kind) != kind) choices.AddRange(values);
        if (Required) choices.Add("null");
        return choices[random.Next(choices.Count)];
    }
}

/// <summary>A body template of one route or frame type: a valid document, and the fields the silo checks in it.</summary>
internal sealed record BodySpec(string Name, Func<JsonObject> Template, IReadOnlyList<FieldSpec> Fields);

/// <summary>
/// Builds malformed JSON: a valid template with one thing broken, as bytes, since much of what matters (invalid UTF-8,
/// numbers no double holds, nesting past any limit) cannot be said with a <see cref="JsonNode"/>. Every result is one
/// the silo must refuse; each comes with a short description for assertion messages.
/// </summary>
internal sealed class MalformedJson(Random random)
{
    /// <summary>Strings that are not valid UTF-8, as raw JSON bytes with their quotes.</summary>
    public static readonly byte[][] InvalidUtf8Strings =
    [
        [(byte)'"', 0xC3, 0x28, (byte)'"'],                         // a lead byte followed by ASCII
        [(byte)'"', (byte)'a', 0xFF, (byte)'b', (byte)'"'],         // a byte UTF-8 never uses
        [(byte)'"', 0x80, (byte)'"'],                               // a lone continuation byte
        [(byte)'"', 0xC0, 0xAF, (byte)'"'],                         // an overlong encoding of '/'
        [(byte)'"', 0xED, 0xA0, 0x80, (byte)'"'],                   // a UTF-16 surrogate encoded in UTF-8
        [(byte)'"', 0xF4, 0x90, 0x80, 0x80, (byte)'"'],             // beyond U+10FFFF
        [(byte)'"', (byte)'x', 0xE2, 0x82, (byte)'"'],              // a sequence cut short
    ];

    /// <summary>Escapes that name half a surrogate pair: valid UTF-8 on the wire, yet no string.</summary>
    public static readonly string[] LoneSurrogates = ["\"\\ud800\"", "\"x\\udc00y\"", "\"\\ud83d\\u0041\"", "\"\\udfff\\ud800\""];

    /// <summary>Text that is not one JSON document.</summary>
    private static readonly string[] BrokenSyntax =
    [
        "{'type':'simulation'}", "{\"type\":\"simulation\",}", "{/*c*/\"type\":\"simulation\"}", "{\"priority\":NaN}",
        "{type:\"simulation\"}", "{\"type\" \"simulation\"}", "{\"a\":1}{\"a\":1}", "{\"a\":1} x", "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}", "{\"a\":01}", "{\"a\":+1}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}",
        "{\"a\":[1,2}", "{\"a\":{\"b\":1]}", "{\"a\" : tru}", "{\"a\":nul}", "{,}", "{\"a\"}", "{\"a\":}", "]", "}", "[", "{",
        "\"unterminated", "{\"a\":\"\u0001\"}", "\u0000", "{\"a\":1}\u0000",
    ];

    /// <summary>Documents that are JSON but not an object, or an object with nothing in it.</summary>
    private static readonly string[] NotAnObject = ["[]", "[{}]", "null", "\"text\"", "42", "-1.5e3", "true", "false", "\"\"", "[[]]"];

    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// A body of <paramref name="spec"/> broken in one way; <paramref name="textOnly"/> leaves out invalid UTF-8 (for
    /// WebSocket text frames, where the socket itself refuses it). <paramref name="describe"/> says how, for messages.
    /// </summary>
    public byte[] Next(BodySpec spec, bool textOnly, out string describe)
    {
        var roll = random.Next(100);
        if (roll < 45 && spec.Fields.Count > 0) return WrongField(spec, out describe);
        if (roll < 50 && spec.Fields.Any(f => f.Required)) return MissingField(spec, out describe);
        return random.Next(textOnly ? 9 : 10) switch
        {
            0 => Truncated(spec, out describe),
            1 => Pick(NotAnObject, "not an object", out describe),
            2 => Pick(BrokenSyntax, "broken syntax", out describe),
            3 => DeepNesting(spec, out describe),
            4 => LoneSurrogate(spec, inName: false, out describe),
            5 => LoneSurrogate(spec, inName: true, out describe),
            6 => Blank(out describe),
            7 => RepeatedName(spec, out describe),
            8 => WithBom(spec, out describe),
            _ => InvalidUtf8(spec, inName: random.Next(4) == 0, out describe),
        };
    }

    /// <summary>One of the template's names given twice, with the same value, the second time at the top level or inside.</summary>
    private byte[] RepeatedName(BodySpec spec, out string describe)
    {
        var root = spec.Template();
        var objects = Objects(root).ToList();
        var target = objects[random.Next(objects.Count)];
        if (target.Count == 0) target["fuzz"] = 1;
        var (name, value) = target.ElementAt(random.Next(target.Count));
        describe = $"{spec.Name}: '{name}' named twice";
        const string Marker = "fuzz-repeat-marker";
        target[Marker] = 1;
        return Splice(Encoding.UTF8.GetBytes(root.ToJsonString()), $"\"{Marker}\":1", Encoding.UTF8.GetBytes($"{JsonValue.Create(name).ToJsonString()}:{value?.ToJsonString() ?? "null"}"));
    }

    private static IEnumerable<JsonObject> Objects(JsonNode? node) => node switch
    {
        JsonObject o => [o, .. o.SelectMany(p => Objects(p.Value))],
        JsonArray a => a.SelectMany(Objects),
        _ => [],
    };

    private byte[] WrongField(BodySpec spec, out string describe)
    {
        var field = spec.Fields[random.Next(spec.Fields.Count)];
        var value = field.WrongValue(random);
        describe = $"{spec.Name}: {field.Path} = {Shorten(value)}";
        return Render(spec.Template(), field.Path, Encoding.UTF8.GetBytes(value));
    }

    private byte[] MissingField(BodySpec spec, out string describe)
    {
        var required = spec.Fields.Where(f => f.Required).ToList();
        var field = required[random.Next(required.Count)];
        describe = $"{spec.Name}: without {field.Path}";
        var root = spec.Template();
        var (parent, name) = Locate(root, field.Path);
        if (parent is JsonObject o) o.Remove(name);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private byte[] Truncated(BodySpec spec, out string describe)
    {
        var whole = Encoding.UTF8.GetBytes(spec.Template().ToJsonString());
        var length = random.Next(whole.Length); // a strict prefix of an object never closes it
        describe = $"{spec.Name}: cut after {length} of {whole.Length} bytes";
        return whole[..length];
    }

    private byte[] Pick(string[] texts, string what, out string describe)
    {
        var text = texts[random.Next(texts.Length)];
        describe = $"{what}: {Shorten(text)}";
        return Encoding.UTF8.GetBytes(text);
    }

    private byte[] DeepNesting(BodySpec spec, out string describe)
    {
        var depth = random.Next(4) switch { 0 => 65, 1 => 200, 2 => 1000, _ => 20_000 };
        var asObjects = random.Next(2) == 0;
        var nested = asObjects
            ? string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)
            : new string('[', depth) + new string(']', depth);
        if (random.Next(2) == 0)
        {
            describe = $"{spec.Name}: the root nested {depth} deep";
            return Encoding.UTF8.GetBytes(nested);
        }
        describe = $"{spec.Name}: a field nested {depth} deep";
        return Render(spec.Template(), "fuzz_nested", Encoding.UTF8.GetBytes(nested));
    }

    private byte[] LoneSurrogate(BodySpec spec, bool inName, out string describe)
    {
        var text = LoneSurrogates[random.Next(LoneSurrogates.Length)];
        return inName ? InName(spec, Encoding.UTF8.GetBytes(text), "a lone surrogate", out describe) : InString(spec, Encoding.UTF8.GetBytes(text), "a lone surrogate", out describe);
    }

    private byte[] InvalidUtf8(BodySpec spec, bool inName, out string describe)
    {
        var bytes = InvalidUtf8Strings[random.Next(InvalidUtf8Strings.Length)];
        return inName ? InName(spec, bytes, "invalid UTF-8", out describe) : InString(spec, bytes, "invalid UTF-8", out describe);
    }

    /// <summary>Puts the string in place of one of the template's strings, or in a field of its own.</summary>
    private byte[] InString(BodySpec spec, byte[] value, string what, out string describe)
    {
        var root = spec.Template();
        var strings = Strings(root, "").ToList();
        var path = strings.Count > 0 && random.Next(4) != 0 ? strings[random.Next(strings.Count)] : "fuzz_note";
        describe = $"{spec.Name}: {what} in {path} ({Hex(value)})";
        return Render(root, path, value);
    }

    private byte[] InName(BodySpec spec, byte[] name, string what, out string describe)
    {
        describe = $"{spec.Name}: {what} in a property name ({Hex(name)})";
        var root = spec.Template();
        const string Marker = "\"fuzz-name-marker\"";
        root["fuzz-name-marker"] = 1;
        return Splice(Encoding.UTF8.GetBytes(root.ToJsonString()), Marker, name);
    }

    private byte[] Blank(out string describe)
    {
        var text = random.Next(3) switch { 0 => "", 1 => "   \r\n\t", _ => "\uFEFF" };
        describe = $"blank body ({text.Length} characters)";
        return Encoding.UTF8.GetBytes(text);
    }

    /// <summary>A byte-order mark before a body that is broken in another way (a BOM before a valid body is fine).</summary>
    private byte[] WithBom(BodySpec spec, out string describe)
    {
        var rest = random.Next(2) == 0 ? Truncated(spec, out var how) : WrongField(spec, out how);
        describe = "BOM + " + how;
        return [.. Bom, .. rest];
    }

    /// <summary>The template as bytes with the value at <paramref name="path"/> replaced by <paramref name="raw"/>.</summary>
    public static byte[] Render(JsonObject root, string path, byte[] raw)
    {
        const string Marker = "fuzz-value-marker";
        var (parent, name) = Locate(root, path);
        switch (parent)
        {
            case JsonObject o: o[name] = Marker; break;
            case JsonArray a: a[int.Parse(name, System.Globalization.CultureInfo.InvariantCulture)] = Marker; break;
        }
        return Splice(Encoding.UTF8.GetBytes(root.ToJsonString()), "\"" + Marker + "\"", raw);
    }

    private static byte[] Splice(byte[] json, string marker, byte[] raw)
    {
        var at = json.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
        return [.. json.AsSpan(0, at), .. raw, .. json.AsSpan(at + marker.Length)];
    }

    /// <summary>The container of the value at <paramref name="path"/> (created as objects where missing) and the last segment.</summary>
    private static (JsonNode Parent, string Name) Locate(JsonObject root, string path)
    {
        JsonNode node = root;
        var segments = path.Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal).Split('.');
        foreach (var segment in segments[..^1])
        {
            var next = node is JsonArray a ? a[int.Parse(segment, System.Globalization.CultureInfo.InvariantCulture)] : node[segment];
            if (next is null)
            {
                next = new JsonObject();
                ((JsonObject)node)[segment] = next;
            }
            node = next;
        }
        return (node, segments[^1]);
    }

    private static IEnumerable<string> Strings(JsonNode? node, string path) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value, path.Length == 0 ? p.Key : path + "." + p.Key)),
        JsonArray a => a.SelectMany((item, i) => Strings(item, $"{path}[{i}]")),
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => [path],
        _ => [],
    };

    /// <summary>A JSON string of <paramref name="count"/> copies of <paramref name="c"/>.</summary>
    public static string Chars(int count, char c = 'x') => "\"" + new string(c, count) + "\"";

    /// <summary>A JSON array of <paramref name="count"/> copies of <paramref name="item"/>.</summary>
    public static string Repeat(int count, string item) => "[" + string.Join(",", Enumerable.Repeat(item, count)) + "]";

    public static string Shorten(string text) => text.Length <= 80 ? text : text[..60] + $"… ({text.Length} characters)";

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes);
}
