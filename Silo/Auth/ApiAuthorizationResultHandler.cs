using Cluster.Silo.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Cluster.Silo.Auth;

/// <summary>Answers 401 and 403 in the API's JSON shape, saying what was wrong with the key or which scope it lacks.</summary>
public sealed class ApiAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            // The handler caches its result per request, so this costs no second lookup.
            var failure = (await context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName).ConfigureAwait(false)).Failure?.Message;
            await ApiError.WriteAsync(context, StatusCodes.Status401Unauthorized, ApiError.Unauthorized,
                failure ?? $"An API key is required: send it in the {ApiKeyAuthenticationHandler.HeaderName} header (or the {ApiKeyAuthenticationHandler.QueryName} query parameter for WebSockets)").ConfigureAwait(false);
            return;
        }
        if (authorizeResult.Forbidden)
        {
            var missing = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ScopeRequirement>().Select(r => r.Scope).ToList() ?? [];
            var message = missing.Count > 0
                ? $"This API key lacks the '{string.Join("', '", missing)}' scope"
                : "This API key may not do this";
            await ApiError.WriteAsync(context, StatusCodes.Status403Forbidden, ApiError.Forbidden, message).ConfigureAwait(false);
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
    }
}
