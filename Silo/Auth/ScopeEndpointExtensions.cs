using Cluster.Grains.Interfaces;

namespace Cluster.Silo.Auth;

public static class ScopeEndpointExtensions
{
    /// <summary>The authorization policy that demands <paramref name="scope"/>.</summary>
    public static string PolicyFor(string scope) => "scope:" + scope;

    /// <summary>
    /// Only callers whose API key (or session) holds <paramref name="scope"/> — or admin — reach the endpoint:
    /// others get 401 (no or bad key) or 403 (missing scope). Use the constants of <see cref="ApiScopes"/>.
    /// </summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder
    {
        if (!ApiScopes.IsKnown(scope)) throw new ArgumentException($"'{scope}' is not one of {string.Join(", ", ApiScopes.All)}", nameof(scope));
        return builder.RequireAuthorization(PolicyFor(scope));
    }
}
