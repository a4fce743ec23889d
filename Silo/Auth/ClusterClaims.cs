using System.Security.Claims;

namespace Cluster.Silo.Auth;

/// <summary>The claims an authenticated caller carries, and how to read them back.</summary>
public static class ClusterClaims
{
    public const string Scope = "scope";
    /// <summary>The key's short id (<see cref="ApiKeyRecord.Id"/>): rate-limit partition and audit handle.</summary>
    public const string KeyId = "key_id";
    /// <summary>How the credential arrived: header, query, session (the cookie) or bearer.</summary>
    public const string Via = "via";
    /// <summary>The user the caller acts for: the one logged in, or the owner of the key.</summary>
    public const string UserId = "user_id";
    /// <summary>The key's requests per second across all silos (<see cref="KeyRateLimits"/>), when it has one.</summary>
    public const string RateLimit = "rate_limit";

    public static ClaimsPrincipal For(ApiKeyRecord key, string via, string scheme) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, key.Name),
                new Claim(KeyId, key.Id),
                new Claim(Via, via),
                .. key.Owner.Length > 0 ? [new Claim(UserId, key.Owner)] : Array.Empty<Claim>(),
                .. key.RateLimit > 0 ? [new Claim(RateLimit, key.RateLimit.ToString(System.Globalization.CultureInfo.InvariantCulture))] : Array.Empty<Claim>(),
                .. key.Scopes.Select(scope => new Claim(Scope, scope)),
            ],
            scheme));

    /// <summary>A logged-in user: named by id (not email, which stays out of logs), with its role's scopes.</summary>
    public static ClaimsPrincipal For(Cluster.Grains.Interfaces.Users.UserView user, string via, string scheme) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, user.Id),
                new Claim(KeyId, user.Id),
                new Claim(UserId, user.Id),
                new Claim(Via, via),
                .. Cluster.Grains.Interfaces.Users.UserRoles.Scopes(user.Role).Select(scope => new Claim(Scope, scope)),
            ],
            scheme));

    public static string? UserIdOf(this ClaimsPrincipal user) => user.FindFirst(UserId)?.Value;

    /// <summary>True if the caller is a user who logged in (a session or bearer token), not a key.</summary>
    public static bool IsLoggedInUser(this ClaimsPrincipal user) =>
        user.UserIdOf() is not null && user.FindFirst(Via)?.Value is "session" or "bearer";

    public static IReadOnlyList<string> Scopes(this ClaimsPrincipal user) => [.. user.FindAll(Scope).Select(c => c.Value)];
    public static string? KeyIdOf(this ClaimsPrincipal user) => user.FindFirst(KeyId)?.Value;
}
