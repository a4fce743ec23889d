using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cluster.Silo.Api;

/// <summary>Reads a request body as JSON, so that malformed JSON gets the API's error shape rather than the framework's.</summary>
public static class JsonBody
{
    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>The parsed body, or null with an error result to return.</summary>
    public static async Task<(JsonNode? Body, IResult? Error)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var body = await JsonNode.ParseAsync(request.Body, NodeOptions, DocumentOptions, cancellationToken);
            return body is null ? (null, ApiError.Validation("Validation failed: the body must be JSON, not null")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, ApiError.Validation($"Validation failed: the body is not valid JSON ({e.Message})"));
        }
    }
}
