using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace Cluster.Grains.Interfaces.Validation;

/// <summary>
/// The door through which JSON from outside the cluster comes in (HTTP bodies, WebSocket frames): one document, nested at
/// most <see cref="MaxDepth"/> deep, no property name twice in one object (RFC 8259 leaves the meaning of that open:
/// one reader takes the first, another the last, ours threw), and every string and property name valid text (UTF-8,
/// no escaped half of a surrogate pair).
/// </summary>
/// <remarks>
/// System.Text.Json checks the syntax when it parses but decodes a string only when something reads it: a parsed
/// <see cref="JsonNode"/> with <c>"\xC3\x28"</c> or <c>"\ud800"</c> in it throws <see cref="InvalidOperationException"/>
/// from whichever later line first reads that string (and a repeated name throws <see cref="ArgumentException"/> when
/// an object is first indexed), while a string nobody reads, such as a payload field, is stored with U+FFFD in place of
/// the bad bytes. Checking every string here, once, turns all of that into a refusal before anything is read or kept.
/// </remarks>
public static class JsonInput
{
    public const int MaxDepth = 64;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

    /// <summary>Null when <paramref name="utf8"/> is one JSON document of valid text without a repeated name, else what is wrong with it.</summary>
    public static string? FindProblem(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        var names = new Stack<HashSet<string>>(); // the names seen so far in each object being read
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        names.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.EndObject:
                        names.Pop();
                        break;
                    case JsonTokenType.String when !IsText(ref reader, out _):
                        return NotText("string", reader.TokenStartIndex);
                    case JsonTokenType.PropertyName:
                        if (!IsText(ref reader, out var name)) return NotText("property name", reader.TokenStartIndex);
                        if (!names.Peek().Add(name)) return $"'{name}' is named twice in one object";
                        break;
                }
            }
            return null;
        }
        catch (JsonException e)
        {
            return e.Message;
        }
    }

    private static string NotText(string what, long at) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"the {what} at byte {at} is not valid text (invalid UTF-8, or half of a surrogate pair)");

    /// <summary>
    /// The document as a node (null for the literal <c>null</c>), or null with <paramref name="problem"/> saying what is
    /// wrong. A UTF-8 byte-order mark in front is skipped, as <see cref="JsonNode.ParseAsync"/> on a stream does.
    /// </summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8, out string? problem)
    {
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        problem = FindProblem(utf8);
        return problem is null ? JsonNode.Parse(utf8, documentOptions: DocumentOptions) : null;
    }

    /// <summary>Whether the string or name under the reader is text; a name is decoded (it is needed), a string value only checked.</summary>
    private static bool IsText(ref Utf8JsonReader reader, out string value)
    {
        value = "";
        if (!reader.ValueIsEscaped && reader.TokenType == JsonTokenType.String) return Utf8.IsValid(reader.ValueSpan);
        try
        {
            value = reader.GetString()!; // unescapes, pairs surrogates and transcodes, throwing on anything that is not text
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
