using Cluster.Grains.Interfaces;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace Cluster.Silo.Auth;

public static class AuthServiceExtensions
{
    /// <summary>API keys, sessions, the authentication scheme and one authorization policy per scope.</summary>
    public static IServiceCollection AddClusterAuth(this IServiceCollection services)
    {
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<TenantQuota>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<BootstrapApiKey>();
        services.AddHostedService<Revocations>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddSingleton<IAuthorizationHandler, ScopeAuthorizationHandler>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ApiAuthorizationResultHandler>();
        services.AddAuthorization(options =>
        {
            foreach (var scope in ApiScopes.All)
                options.AddPolicy(ScopeEndpointExtensions.PolicyFor(scope), policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement([scope])));
        });
        return services;
    }
}
