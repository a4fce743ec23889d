using Cluster.Grains.Interfaces;
using Microsoft.AspNetCore.Authorization;

namespace Cluster.Silo.Auth;

/// <summary>The caller's key must hold one of <see cref="Scopes"/> (or admin).</summary>
public sealed record ScopeRequirement(IReadOnlyList<string> Scopes) : IAuthorizationRequirement
{
    /// <summary>The scopes as people read them: "submit or monitor".</summary>
    public string Scope => string.Join(" or ", Scopes);
}

public sealed class ScopeAuthorizationHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        var granted = context.User.Scopes().ToArray();
        if (requirement.Scopes.Any(scope => ApiScopes.Allows(granted, scope))) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
