using System.Security.Claims;
using System.Text.Json.Serialization;

namespace Cluster.Silo.Auth;

public sealed record CallerIdentity(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string> Scopes,
    [property: JsonPropertyName("via")] string? Via,
    [property: JsonPropertyName("user"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? User = null,
    [property: JsonPropertyName("login")] bool Login = false)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => true;
}

/// <summary>
/// <c>GET /api/whoami</c>: which key (or session) the caller is, its scopes, the user (tenant) it acts for, and whether
/// it is a user's login (which manages that user's keys). Lets clients check a key before using it.
/// </summary>
public static class WhoAmIEndpoint
{
    public static IEndpointRouteBuilder MapWhoAmI(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/whoami", (ClaimsPrincipal user) =>
                Results.Json(new CallerIdentity(user.KeyIdOf(), user.Identity?.Name, user.Scopes(), user.FindFirst(ClusterClaims.Via)?.Value,
                    user.UserIdOf(), user.IsLoggedInUser())))
            .RequireAuthorization();
        return endpoints;
    }
}
