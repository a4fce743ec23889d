using System.Text.Json.Serialization;
using Cluster.Grains.Interfaces;
using Cluster.Silo.Api;

namespace Cluster.Silo.Auth;

public sealed record CreateApiKeyRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("scopes")] string[]? Scopes);

public sealed record CreatedApiKey(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string> Scopes)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => true;
}

public sealed record ApiKeySummary(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string> Scopes,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt)
{
    public static ApiKeySummary Of(ApiKeyRecord r) => new(r.Id, r.Name, r.Prefix, r.Scopes, r.CreatedAt);
}

public sealed record ApiKeyList([property: JsonPropertyName("keys")] IReadOnlyList<ApiKeySummary> Keys)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => true;
}

public sealed record DeletedApiKey([property: JsonPropertyName("deleted")] ApiKeySummary Deleted)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => true;
}

/// <summary><c>/api/keys</c>: admins create, list and delete API keys. The plaintext key is in the create response only.</summary>
public static class ApiKeyEndpoints
{
    public const int MaxNameLength = 100;

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var keys = endpoints.MapGroup("/api/keys").RequireScope(ApiScopes.Admin);
        keys.MapPost("", CreateAsync);
        keys.MapGet("", ListAsync);
        keys.MapDelete("/{idOrPrefix}", DeleteAsync);
        return endpoints;
    }

    private static async Task<IResult> CreateAsync(HttpRequest http, ApiKeyStore store, CancellationToken cancellationToken)
    {
        var (request, error) = await JsonBody.ReadAsync<CreateApiKeyRequest>(http, cancellationToken).ConfigureAwait(false);
        if (error is not null) return error;
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
            return ApiError.Validation($"'name' is required, 1 to {MaxNameLength} characters");
        var scopes = request!.Scopes?.Select(s => s?.Trim() ?? "").Distinct(StringComparer.Ordinal).ToArray() ?? [];
        if (scopes.Length == 0 || scopes.Any(s => !ApiScopes.IsKnown(s)))
            return ApiError.Validation($"'scopes' must list one or more of: {string.Join(", ", ApiScopes.All)}");

        var (key, record) = await store.CreateAsync(name, scopes, cancellationToken).ConfigureAwait(false);
        return Results.Json(new CreatedApiKey(key, record.Id, record.Name, record.Prefix, record.Scopes), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(ApiKeyStore store, CancellationToken cancellationToken)
    {
        var all = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        return Results.Json(new ApiKeyList([.. all.Select(ApiKeySummary.Of)]));
    }

    private static async Task<IResult> DeleteAsync(string idOrPrefix, ApiKeyStore store, CancellationToken cancellationToken)
    {
        var (outcome, record) = await store.DeleteAsync(idOrPrefix, cancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            ApiKeyDeletion.Deleted => Results.Json(new DeletedApiKey(ApiKeySummary.Of(record!))),
            ApiKeyDeletion.Ambiguous => ApiError.Result(StatusCodes.Status409Conflict, ApiError.Conflict, $"More than one key matches '{idOrPrefix}'; use the key's id"),
            _ => ApiError.Result(StatusCodes.Status404NotFound, ApiError.NotFound, $"No API key has the id or prefix '{idOrPrefix}'"),
        };
    }
}
