using System.Text.Json.Nodes;

namespace Cluster.Grains.Interfaces.Validation;

/// <summary>One kind of job the cluster accepts, with the schema its payload must meet.</summary>
public sealed record JobType(string Name, string Description, JsonObject Schema);

/// <summary>
/// The job types the cluster accepts. The defaults are seed 001's; configuration (the <c>JobTypes</c>
/// section: name → {description, schema}) adds types or replaces defaults of the same name.
/// </summary>
public sealed class JobTypeCatalog
{
    private readonly Dictionary<string, JobType> _types;

    public JobTypeCatalog(IEnumerable<JobType> types) =>
        _types = types.ToDictionary(t => t.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<JobType> Types => _types.Values;

    public static JobTypeCatalog Default { get; } = new(Defaults());

    public JobTypeCatalog With(IEnumerable<JobType> overrides)
    {
        var merged = new Dictionary<string, JobType>(_types, StringComparer.Ordinal);
        foreach (var type in overrides) merged[type.Name] = type;
        return new JobTypeCatalog(merged.Values);
    }

    /// <summary>
    /// Null when a job of this type and payload is acceptable; otherwise what is wrong with it. A workflow step with
    /// dependencies (<paramref name="hasInputs"/>) may leave out the payload's required fields: its dependencies' results
    /// bring them, as <c>inputs</c>.
    /// </summary>
    public string? FindProblem(string type, JsonObject payload, bool hasInputs = false)
    {
        if (!_types.TryGetValue(type, out var jobType))
            return $"Validation failed: unknown job type '{type}'; known types are {string.Join(", ", _types.Keys.Order(StringComparer.Ordinal))}";
        return PayloadSchema.FindProblem(jobType.Schema, payload, topLevelRequired: !hasInputs) is { } problem ? $"Validation failed for {type}: {problem}" : null;
    }

    private static IEnumerable<JobType> Defaults()
    {
        static JsonObject Schema(string json) => JsonNode.Parse(json)!.AsObject();
        const string Parameters = """
            "parameters": {"type": "object", "properties": {
              "width": {"type": "integer", "minimum": 64, "maximum": 8192},
              "height": {"type": "integer", "minimum": 64, "maximum": 8192},
              "steps": {"type": "integer", "minimum": 1, "maximum": 500},
              "guidance_scale": {"type": "number", "minimum": 0, "maximum": 50},
              "seed": {"type": "integer"} } }
            """;
        yield return new("text-to-image", "Generate an image from a text prompt", Schema($$"""
            {"type": "object", "required": ["prompt"], "properties": {
              "prompt": {"type": "string", "minLength": 1, "maxLength": 10000},
              "negative_prompt": {"type": "string", "maxLength": 10000},
              {{Parameters}}
            } }
            """));
        yield return new("img2img", "Transform an input image guided by a prompt", Schema($$"""
            {"type": "object", "required": ["image_url"], "properties": {
              "image_url": {"type": "string", "minLength": 1, "maxLength": 4096},
              "prompt": {"type": "string", "maxLength": 10000},
              "strength": {"type": "number", "minimum": 0, "maximum": 1},
              {{Parameters}}
            } }
            """));
        yield return new("upscale", "Upscale an image", Schema("""
            {"type": "object", "properties": {
              "image_url": {"type": "string", "maxLength": 4096},
              "scale_factor": {"type": "number", "minimum": 1, "maximum": 8}}}
            """));
        yield return new("text-generation", "Generate text from a prompt with a language model", Schema("""
            {"type": "object", "required": ["prompt"], "properties": {
              "prompt": {"type": "string", "minLength": 1, "maxLength": 100000},
              "model": {"type": "string", "maxLength": 256},
              "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1000000}}}
            """));
        yield return new("simulation", "A simulated job for testing and load: sleeps, reports progress, may fail", Schema("""
            {"type": "object", "properties": {
              "duration_ms": {"type": "integer", "minimum": 0, "maximum": 3600000},
              "fail": {"type": "boolean"}}}
            """));
    }
}
