using Cluster.Grains.Interfaces;
using Microsoft.AspNetCore.Authorization;

namespace Cluster.Silo.Auth;

/// <summary>The caller's key must hold <see cref="Scope"/> (or admin).</summary>
public sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

public sealed class ScopeAuthorizationHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (ApiScopes.Allows(context.User.Scopes(), requirement.Scope)) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
