using Microsoft.AspNetCore.Routing.Template;

namespace Cluster.Silo.Api;

/// <summary>
/// What <c>/api</c> answers when no route takes a request: <c>405</c> with <c>Allow</c> when the path has routes for
/// other methods, else <c>404</c>, both in the error shape. A fallback is needed for the shape, and since it takes any
/// method it would otherwise win over routing's own 405.
/// </summary>
public static class ApiRouteFallback
{
    private const string Pattern = "/api/{**path}";
    private static (TemplateMatcher Matcher, IReadOnlyList<string> Methods)[]? _routes;

    public static void MapApiFallback(this WebApplication app) =>
        app.MapFallback(Pattern, (HttpContext context, EndpointDataSource endpoints) => Answer(context, endpoints));

    private static IResult Answer(HttpContext context, EndpointDataSource endpoints)
    {
        var request = context.Request;
        var allowed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (matcher, methods) in _routes ??= Routes(endpoints))
            if (matcher.TryMatch(request.Path, [])) allowed.UnionWith(methods);
        if (allowed.Count == 0)
            return ApiError.Result(StatusCodes.Status404NotFound, ApiError.NotFound, $"No API route for {request.Method} {request.Path}");
        var allow = string.Join(", ", allowed);
        context.Response.Headers.Allow = allow;
        return ApiError.Result(StatusCodes.Status405MethodNotAllowed, ApiError.MethodNotAllowed, $"{request.Method} is not allowed on {request.Path}; it takes {allow}");
    }

    /// <summary>The API's routes and their methods, read once: endpoints do not change after the silo started.</summary>
    private static (TemplateMatcher, IReadOnlyList<string>)[] Routes(EndpointDataSource endpoints) =>
    [
        .. endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith("/api/", StringComparison.Ordinal) && raw != Pattern)
            .Select(e => (e, methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods))
            .Where(r => r.methods is { Count: > 0 })
            .Select(r => (new TemplateMatcher(new RouteTemplate(r.e.RoutePattern), []), r.methods!)),
    ];
}
