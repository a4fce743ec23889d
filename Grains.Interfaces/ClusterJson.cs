using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cluster.Grains.Interfaces;

/// <summary>The one JSON convention of the system: snake_case names (seed 001), nulls left out.</summary>
public static class ClusterJson
{
    public static readonly JsonSerializerOptions Options = Create();

    /// <summary>
    /// For reading what clients send (protocol frames, request bodies) into records: as <see cref="Options"/>, and a null
    /// where the record's type says none may be (<c>"job_id": null</c> into a <c>string</c>) is a <see cref="JsonException"/>
    /// rather than a null that fails later, far from the frame. Check the text first with <see cref="Validation.JsonInput"/>.
    /// </summary>
    public static readonly JsonSerializerOptions Input = new(Create()) { RespectNullableAnnotations = true };

    public static JsonSerializerOptions Create() => new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
        MaxDepth = 64,
    };
}
