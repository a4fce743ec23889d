using System.Net;
using Cluster.Grains.Interfaces;
using Microsoft.AspNetCore.Authorization;

namespace Cluster.Silo.Auth;

/// <summary>The caller's key must hold one of <see cref="Scopes"/> (or admin).</summary>
public sealed record ScopeRequirement(IReadOnlyList<string> Scopes) : IAuthorizationRequirement
{
    /// <summary>The scopes as people read them: "submit or monitor".</summary>
    public string Scope => string.Join(" or ", Scopes);

    /// <summary>
    /// Also admit a caller on a loopback address that presents no key, cookie or session at all. A caller that
    /// does present one is judged by it, so a bad or lesser key from the same machine still gets 401 or 403.
    /// </summary>
    public bool OrLoopbackWithoutKey { get; init; }
}

public sealed class ScopeAuthorizationHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        var granted = context.User.Scopes().ToArray();
        if (requirement.Scopes.Any(scope => ApiScopes.Allows(granted, scope))
            || (requirement.OrLoopbackWithoutKey && context.User.Identity?.IsAuthenticated != true
                && context.Resource is HttpContext http && IsLoopbackWithoutKey(http)))
            context.Succeed(requirement);
        return Task.CompletedTask;
    }

    private static bool IsLoopbackWithoutKey(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address
        // A dual-stack listener (http://*:port) sees IPv4 callers as ::ffff:127.0.0.1.
        && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address)
        && !ApiKeyAuthenticationHandler.PresentsCredential(http.Request);
}
