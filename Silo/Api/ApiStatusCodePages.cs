using Cluster.Silo.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Api;

/// <summary>Gives error responses that left the pipeline without a body (unmatched methods, failed binding…) the API's JSON shape.</summary>
public static class ApiStatusCodePages
{
    public static IApplicationBuilder UseApiStatusCodePages(this IApplicationBuilder app) =>
        app.UseStatusCodePages(WriteAsync);

    private static Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (BodyLimitStream.LimitWasHit(http))
        {
            var limit = http.RequestServices.GetRequiredService<IOptions<ClusterOptions>>().Value.MaxRequestBytes;
            return ApiError.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, ApiError.PayloadTooLarge, ApiErrorMiddleware.TooLarge(limit));
        }
        var status = http.Response.StatusCode;
        var message = status switch
        {
            404 => $"Nothing at {http.Request.Method} {http.Request.Path}",
            405 => $"{http.Request.Method} is not allowed on {http.Request.Path}",
            400 => "The request is malformed: check the JSON body and the parameters",
            415 => "Send the body as application/json",
            _ => $"The request failed with status {status}",
        };
        return ApiError.WriteAsync(http, status, ApiError.CodeFor(status), message);
    }
}
