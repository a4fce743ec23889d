using Cluster.Grains.Interfaces;
using Microsoft.AspNetCore.Authorization;

namespace Cluster.Silo.Auth;

public static class ScopeEndpointExtensions
{
    /// <summary>The authorization policy that demands <paramref name="scope"/>.</summary>
    public static string PolicyFor(string scope) => "scope:" + scope;

    /// <summary>
    /// Only callers whose API key (or session) holds one of <paramref name="scopes"/> — or admin — reach the
    /// endpoint: others get 401 (no or bad key) or 403 (missing scope). Use the constants of <see cref="ApiScopes"/>.
    /// </summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, params string[] scopes) where TBuilder : IEndpointConventionBuilder
    {
        if (scopes.Length == 0) throw new ArgumentException("Name at least one scope", nameof(scopes));
        foreach (var scope in scopes)
            if (!ApiScopes.IsKnown(scope)) throw new ArgumentException($"'{scope}' is not one of {string.Join(", ", ApiScopes.All)}", nameof(scopes));
        return scopes.Length == 1
            ? builder.RequireAuthorization(PolicyFor(scopes[0]))
            : builder.RequireAuthorization(policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scopes)));
    }

    /// <summary>
    /// As <see cref="RequireScope"/> with one scope, but a caller on a loopback address that presents no key
    /// passes too: for operators' tools on the silo's own machine, such as a Prometheus scraping <c>/metrics</c>.
    /// </summary>
    public static TBuilder RequireScopeOrLoopback<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ScopeOrLoopbackPolicy(scope));

    /// <summary>The policy of <see cref="RequireScopeOrLoopback"/>.</summary>
    public static AuthorizationPolicy ScopeOrLoopbackPolicy(string scope)
    {
        if (!ApiScopes.IsKnown(scope)) throw new ArgumentException($"'{scope}' is not one of {string.Join(", ", ApiScopes.All)}", nameof(scope));
        // No RequireAuthenticatedUser: the keyless local caller is anonymous. An anonymous caller from elsewhere
        // fails the requirement, which the policy evaluator answers with 401, not 403.
        return new AuthorizationPolicyBuilder().AddRequirements(new ScopeRequirement([scope]) { OrLoopbackWithoutKey = true }).Build();
    }
}
