using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.Silo.Api;

/// <summary>
/// Reads a request body as a JSON object, the one way every route takes JSON in: anything that is not one valid JSON
/// object of valid text (see <see cref="JsonInput"/>) gets the API's 400 before a handler looks inside, so a handler
/// can index the object and read its strings without meeting an exception.
/// </summary>
public static class JsonBody
{
    /// <summary>The body as an object, or null with the error result to return.</summary>
    public static async Task<(JsonObject? Body, IResult? Error)> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // The body is at most Cluster:MaxRequestBytes: ApiErrorMiddleware and Kestrel stop a longer one with a 413.
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        var node = JsonInput.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), out var problem);
        if (problem is not null) return (null, ApiError.Validation($"Validation failed: the body is not valid JSON ({problem})"));
        return node is JsonObject body ? (body, null) : (null, ApiError.Validation("Validation failed: the body must be a JSON object"));
    }

    /// <summary>
    /// The body as a <typeparamref name="T"/>, for routes that take a fixed shape and are called by browsers and tools
    /// rather than seed 001's clients: these also want <c>Content-Type: application/json</c> (415 otherwise), which a
    /// cross-site form cannot send.
    /// </summary>
    public static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        if (!request.HasJsonContentType())
            return (null, ApiError.Result(StatusCodes.Status415UnsupportedMediaType, ApiError.UnsupportedMediaType, "Send the body as application/json"));
        var (body, error) = await ReadObjectAsync(request, cancellationToken);
        if (body is null) return (null, error);
        try
        {
            return (body.Deserialize<T>(ClusterJson.Input), null);
        }
        catch (JsonException e)
        {
            return (null, ApiError.Validation($"Validation failed: {e.Message}"));
        }
    }
}
