using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cluster.Grains.Streams;

/// <summary>
/// Turns an event's stream fields (all text in Redis) into typed JSON: numbers where the field is a number,
/// embedded JSON for results and errors, text for the rest.
/// </summary>
public static class EventJson
{
    private static readonly HashSet<string> NumberFields = new(StringComparer.Ordinal)
        { "progress", "priority", "retry_count", "will_retry", "retry_at", "lease_expires_at", "returned" };
    private static readonly HashSet<string> JsonFields = new(StringComparer.Ordinal) { "result", "error" };

    public static JsonObject ToJson(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var json = new JsonObject();
        foreach (var (name, text) in fields) json[name] = Value(name, text);
        return json;
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>
    /// The text of <see cref="ToJson"/> of a field <c>type</c> and then <paramref name="fields"/> (which have no field of that
    /// name), written straight from the fields: what a grain keeps as an event's history entry on every transition,
    /// without building and parsing a JSON tree for it. An embedded JSON field keeps its text as given.
    /// </summary>
    public static string ToJsonText(string type, IEnumerable<KeyValuePair<string, string>> fields)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString("type", type);
        foreach (var (name, text) in fields)
        {
            writer.WritePropertyName(name);
            WriteValue(writer, name, text);
        }
        writer.WriteEndObject();
        writer.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteValue(Utf8JsonWriter writer, string name, string text)
    {
        if (NumberFields.Contains(name) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            if (double.IsInteger(number)) writer.WriteNumberValue((long)number);
            else writer.WriteNumberValue(number);
        }
        else if (JsonFields.Contains(name) && IsJson(text)) writer.WriteRawValue(text, skipInputValidation: true);
        else writer.WriteStringValue(text);
    }

    private static bool IsJson(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
        try
        {
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static JsonNode? Value(string name, string text)
    {
        if (NumberFields.Contains(name) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            return double.IsInteger(number) ? JsonValue.Create((long)number) : JsonValue.Create(number);
        if (JsonFields.Contains(name))
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                return JsonValue.Create(text);
            }
        }
        return JsonValue.Create(text);
    }
}
