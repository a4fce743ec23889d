using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cluster.Grains.Interfaces;

/// <summary>The one JSON convention of the system: snake_case names (seed 001), nulls left out.</summary>
public static class ClusterJson
{
    public static readonly JsonSerializerOptions Options = Create();

    public static JsonSerializerOptions Create() => new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
        MaxDepth = 64,
    };
}
