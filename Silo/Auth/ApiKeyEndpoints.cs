using System.Security.Claims;
using System.Text.Json.Serialization;
using Cluster.Grains.Interfaces;
using Cluster.Silo.Api;

namespace Cluster.Silo.Auth;

public sealed record CreateApiKeyRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("scopes")] string[]? Scopes,
    [property: JsonPropertyName("rate_limit")] int? RateLimit = null);

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
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("owner"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Owner,
    [property: JsonPropertyName("rate_limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? RateLimit)
{
    public static ApiKeySummary Of(ApiKeyRecord r) =>
        new(r.Id, r.Name, r.Prefix, r.Scopes, r.CreatedAt, r.Owner.Length > 0 ? r.Owner : null, r.RateLimit > 0 ? r.RateLimit : null);
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

/// <summary>
/// <c>/api/keys</c>: admins create, list and delete any API key; a logged-in user (a session or bearer token, not a key)
/// does the same with their own keys, whose scopes are no wider than their role's. The plaintext key is in the create
/// response only.
/// </summary>
public static class ApiKeyEndpoints
{
    public const int MaxNameLength = 100;

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var keys = endpoints.MapGroup("/api/keys").RequireAuthorization();
        keys.MapPost("", CreateAsync);
        keys.MapGet("", ListAsync);
        keys.MapDelete("/{idOrPrefix}", DeleteAsync);
        return endpoints;
    }

    /// <summary>Whose keys the caller manages: everyone's (an admin: null owner), its own (a logged-in user), or none.</summary>
    private static (bool Allowed, string? Owner, IReadOnlyList<string> MaxScopes) Manager(ClaimsPrincipal user)
    {
        if (ApiScopes.Allows(user.Scopes(), ApiScopes.Admin)) return (true, null, ApiScopes.All);
        if (user.IsLoggedInUser()) return (true, user.UserIdOf(), user.Scopes());
        return (false, null, []);
    }

    private static IResult NotAManager() => ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden,
        "This API key lacks the 'admin' scope; a user manages their own keys once logged in (POST /api/auth/login)");

    private static async Task<IResult> CreateAsync(HttpRequest http, ClaimsPrincipal user, ApiKeyStore store, CancellationToken cancellationToken)
    {
        var (allowed, owner, maxScopes) = Manager(user);
        if (!allowed) return NotAManager();
        var (request, error) = await JsonBody.ReadAsync<CreateApiKeyRequest>(http, cancellationToken).ConfigureAwait(false);
        if (error is not null) return error;
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
            return ApiError.Validation($"'name' is required, 1 to {MaxNameLength} characters");
        var scopes = request!.Scopes?.Select(s => s?.Trim() ?? "").Distinct(StringComparer.Ordinal).ToArray() ?? [];
        if (scopes.Length == 0 || scopes.Any(s => !ApiScopes.IsKnown(s)))
            return ApiError.Validation($"'scopes' must list one or more of: {string.Join(", ", ApiScopes.All)}");
        if (request.RateLimit is < KeyRateLimits.Min or > KeyRateLimits.Max)
            return ApiError.Validation($"'rate_limit' must be {KeyRateLimits.Min} to {KeyRateLimits.Max} requests per second, or left out");
        if (scopes.FirstOrDefault(s => !maxScopes.Contains(s, StringComparer.Ordinal)) is { } wider)
            return ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden,
                $"A key may not have the '{wider}' scope: yours are {string.Join(", ", maxScopes)}");

        var (key, record) = await store.CreateAsync(name, scopes, owner ?? "", request.RateLimit ?? 0, cancellationToken).ConfigureAwait(false);
        return Results.Json(new CreatedApiKey(key, record.Id, record.Name, record.Prefix, record.Scopes), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, ApiKeyStore store, CancellationToken cancellationToken)
    {
        var (allowed, owner, _) = Manager(user);
        if (!allowed) return NotAManager();
        var all = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        return Results.Json(new ApiKeyList([.. all.Where(r => owner is null || r.Owner == owner).Select(ApiKeySummary.Of)]));
    }

    private static async Task<IResult> DeleteAsync(string idOrPrefix, ClaimsPrincipal user, ApiKeyStore store, CancellationToken cancellationToken)
    {
        var (allowed, owner, _) = Manager(user);
        if (!allowed) return NotAManager();
        var (outcome, record) = await store.DeleteAsync(idOrPrefix, owner, cancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            ApiKeyDeletion.Deleted => Results.Json(new DeletedApiKey(ApiKeySummary.Of(record!))),
            ApiKeyDeletion.Ambiguous => ApiError.Result(StatusCodes.Status409Conflict, ApiError.Conflict, $"More than one key matches '{idOrPrefix}'; use the key's id"),
            _ => ApiError.Result(StatusCodes.Status404NotFound, ApiError.NotFound, $"No API key has the id or prefix '{idOrPrefix}'"),
        };
    }
}
