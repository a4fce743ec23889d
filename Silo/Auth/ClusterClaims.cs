using System.Security.Claims;

namespace Cluster.Silo.Auth;

/// <summary>The claims an authenticated caller carries, and how to read them back.</summary>
public static class ClusterClaims
{
    public const string Scope = "scope";
    /// <summary>The key's short id (<see cref="ApiKeyRecord.Id"/>): rate-limit partition and audit handle.</summary>
    public const string KeyId = "key_id";
    /// <summary>How the key arrived: header, query or session.</summary>
    public const string Via = "via";

    public static ClaimsPrincipal For(ApiKeyRecord key, string via, string scheme) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, key.Name),
                new Claim(KeyId, key.Id),
                new Claim(Via, via),
                .. key.Scopes.Select(scope => new Claim(Scope, scope)),
            ],
            scheme));

    public static IReadOnlyList<string> Scopes(this ClaimsPrincipal user) => [.. user.FindAll(Scope).Select(c => c.Value)];
    public static string? KeyIdOf(this ClaimsPrincipal user) => user.FindFirst(KeyId)?.Value;
}
