using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Validation;

/// <summary>
/// The subset of JSON Schema that job types need: <c>type</c> (one or a list), <c>required</c>,
/// <c>properties</c>, <c>additionalProperties: false</c>, <c>enum</c>, <c>minimum</c>/<c>maximum</c>,
/// <c>minLength</c>/<c>maxLength</c>, <c>items</c>, <c>minItems</c>/<c>maxItems</c>. Unknown keywords are ignored.
/// </summary>
public static class PayloadSchema
{
    /// <summary>Returns the first problem found, naming its path (e.g. <c>parameters.width</c>), or null when the value conforms.</summary>
    /// <param name="topLevelRequired">
    /// False for a workflow step with dependencies: the payload's own required fields may come from its dependencies'
    /// results (its <c>inputs</c>); what it does give is checked all the same, and so are required fields below the top.
    /// </param>
    public static string? FindProblem(JsonObject schema, JsonNode? value, string path = "", bool topLevelRequired = true)
    {
        var where = path.Length == 0 ? "the payload" : $"'{path}'";
        if (schema["type"] is { } typeNode)
        {
            var allowed = typeNode is JsonArray list ? list.Select(t => t!.ToString()).ToArray() : [typeNode.ToString()];
            var actual = TypeOf(value);
            if (!allowed.Any(t => t == actual || (t == "number" && actual == "integer")))
                return $"{where} must be {string.Join(" or ", allowed)}, not {actual}";
        }
        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
            return $"{where} must be one of {options.ToJsonString()}";

        switch (value)
        {
            case JsonObject obj:
                if (schema["required"] is JsonArray required && (topLevelRequired || path.Length > 0))
                    foreach (var name in required.Select(r => r!.ToString()))
                        if (!obj.ContainsKey(name) || obj[name] is null)
                            return $"'{Join(path, name)}' is required";
                var properties = schema["properties"] as JsonObject;
                foreach (var (name, child) in obj)
                {
                    if (properties?[name] is JsonObject childSchema)
                    {
                        if (FindProblem(childSchema, child, Join(path, name)) is { } problem) return problem;
                    }
                    else if (schema["additionalProperties"] is JsonValue extra && extra.GetValueKind() == JsonValueKind.False)
                    {
                        return $"'{Join(path, name)}' is not a known field";
                    }
                }
                break;
            case JsonArray array:
                if (Number(schema, "minItems") is { } minItems && array.Count < minItems) return $"{where} needs at least {minItems} items";
                if (Number(schema, "maxItems") is { } maxItems && array.Count > maxItems) return $"{where} allows at most {maxItems} items";
                if (schema["items"] is JsonObject itemSchema)
                    for (var i = 0; i < array.Count; i++)
                        if (FindProblem(itemSchema, array[i], $"{path}[{i}]") is { } problem) return problem;
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                var length = v.GetValue<string>().Length;
                if (Number(schema, "minLength") is { } minLength && length < minLength) return $"{where} must be at least {minLength} characters";
                if (Number(schema, "maxLength") is { } maxLength && length > maxLength) return $"{where} must be at most {maxLength} characters";
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                var n = v.GetValue<double>();
                if (Number(schema, "minimum") is { } min && n < min) return $"{where} must be at least {Format(min)}";
                if (Number(schema, "maximum") is { } max && n > max) return $"{where} must be at most {Format(max)}";
                break;
        }
        return null;
    }

    private static string TypeOf(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => double.IsInteger(v.GetValue<double>()) ? "integer" : "number",
            _ => "null",
        },
        _ => "unknown",
    };

    private static double? Number(JsonObject schema, string keyword) =>
        schema[keyword] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private static string Format(double n) => n.ToString(CultureInfo.InvariantCulture);
}
