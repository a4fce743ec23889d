using System.Globalization;
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
