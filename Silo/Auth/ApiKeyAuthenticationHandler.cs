using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Cluster.Silo.Auth;

/// <summary>
/// Authenticates a request by its API key — the <c>x-api-key</c> header, else the <c>api_key</c> query
/// parameter (browsers cannot set headers on WebSockets) — or else by a session: a user's login token in
/// <c>Authorization: Bearer …</c>, or the session cookie (a user's login or the dashboard's key sign-in).
/// No credential at all is not a failure: endpoints that need one say so with <c>RequireScope</c>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    SessionStore sessions,
    Cluster.Grains.GrainFactory grains)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "x-api-key";
    public const string QueryName = "api_key";
    public const string SessionCookieName = "cluster_session";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var ct = Context.RequestAborted;
        if (Request.Headers.TryGetValue(HeaderName, out var header) && !string.IsNullOrEmpty(header))
            return await ByKeyAsync(header.ToString(), "header", ct).ConfigureAwait(false);
        if (Request.Query.TryGetValue(QueryName, out var query) && !string.IsNullOrEmpty(query))
            return await ByKeyAsync(query.ToString(), "query", ct).ConfigureAwait(false);
        if (BearerToken(Request) is { } token)
            return await BySessionAsync(token, "bearer", ct).ConfigureAwait(false);
        if (Request.Cookies.TryGetValue(SessionCookieName, out var sessionId) && !string.IsNullOrEmpty(sessionId))
            return await BySessionAsync(sessionId, "session", ct).ConfigureAwait(false);
        return AuthenticateResult.NoResult();
    }

    private async Task<AuthenticateResult> BySessionAsync(string sessionId, string via, CancellationToken ct)
    {
        var session = await sessions.FindAsync(sessionId, ct).ConfigureAwait(false);
        if (session is { UserId: { } userId })
        {
            var user = await grains.User(userId).GetAsync().WaitAsync(ct).ConfigureAwait(false);
            return user is null || user.Disabled
                ? AuthenticateResult.Fail("The account is disabled or no longer exists; log in again")
                : AuthenticateResult.Success(new AuthenticationTicket(ClusterClaims.For(user, via, SchemeName), SchemeName));
        }
        var key = session is { KeyHash: { } keyHash } ? await keys.FindByHashAsync(keyHash, ct).ConfigureAwait(false) : null;
        return key is null
            ? AuthenticateResult.Fail("The session has expired or its API key was deleted; sign in again")
            : Success(key, via);
    }

    /// <summary>The token of an <c>Authorization: Bearer …</c> header, or null.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    /// <summary>True if the request carries any of the credentials this handler reads, valid or not.</summary>
    public static bool PresentsCredential(HttpRequest request) =>
        !StringValues.IsNullOrEmpty(request.Headers[HeaderName])
        || !StringValues.IsNullOrEmpty(request.Query[QueryName])
        || BearerToken(request) is not null
        || !string.IsNullOrEmpty(request.Cookies[SessionCookieName]);

    private async Task<AuthenticateResult> ByKeyAsync(string presented, string via, CancellationToken ct)
    {
        var key = await keys.FindByKeyAsync(presented, ct).ConfigureAwait(false);
        return key is null ? AuthenticateResult.Fail("The API key is not valid") : Success(key, via);
    }

    private AuthenticateResult Success(ApiKeyRecord key, string via) =>
        AuthenticateResult.Success(new AuthenticationTicket(ClusterClaims.For(key, via, SchemeName), SchemeName));
}
