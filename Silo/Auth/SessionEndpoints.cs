using System.Text.Json.Serialization;
using Cluster.Silo.Api;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Auth;

public sealed record OpenSessionRequest([property: JsonPropertyName("api_key")] string? ApiKey);

public sealed record OpenedSession(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string> Scopes,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => true;
}

/// <summary>
/// <c>/api/session</c>: the dashboard trades an API key for an HttpOnly, SameSite=Strict cookie so that
/// the key does not have to live in the page's script.
/// </summary>
public static class SessionEndpoints
{
    public static IEndpointRouteBuilder MapSessionEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/session", OpenAsync);
        endpoints.MapDelete("/api/session", CloseAsync);
        return endpoints;
    }

    private static async Task<IResult> OpenAsync(HttpContext context, ApiKeyStore keys, SessionStore sessions, IOptions<AuthOptions> options, CancellationToken cancellationToken)
    {
        var (request, error) = await JsonBody.ReadAsync<OpenSessionRequest>(context.Request, cancellationToken).ConfigureAwait(false);
        if (error is not null) return error;
        if (string.IsNullOrWhiteSpace(request?.ApiKey)) return ApiError.Validation("'api_key' is required");
        var key = await keys.FindByKeyAsync(request.ApiKey.Trim(), cancellationToken).ConfigureAwait(false);
        if (key is null) return ApiError.Result(StatusCodes.Status401Unauthorized, ApiError.Unauthorized, "The API key is not valid");

        var sessionId = await sessions.CreateAsync(key, cancellationToken).ConfigureAwait(false);
        var lifetime = options.Value.SessionLifetime;
        SetCookie(context, sessionId, lifetime);
        return Results.Json(new OpenedSession(key.Name, key.Scopes, DateTimeOffset.UtcNow + lifetime));
    }

    private static async Task<IResult> CloseAsync(HttpContext context, SessionStore sessions, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies.TryGetValue(ApiKeyAuthenticationHandler.SessionCookieName, out var sessionId) && !string.IsNullOrEmpty(sessionId))
            await sessions.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
        ClearCookie(context);
        return Results.Json(new { success = true });
    }

    /// <summary>The session cookie: HttpOnly and SameSite=Strict, so that the page's script never holds the credential.</summary>
    public static void SetCookie(HttpContext context, string sessionId, TimeSpan lifetime) =>
        context.Response.Cookies.Append(ApiKeyAuthenticationHandler.SessionCookieName, sessionId, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            MaxAge = lifetime,
        });

    public static void ClearCookie(HttpContext context) =>
        context.Response.Cookies.Delete(ApiKeyAuthenticationHandler.SessionCookieName, new CookieOptions { Path = "/", HttpOnly = true, SameSite = SameSiteMode.Strict });
}
