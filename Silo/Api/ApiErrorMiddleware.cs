using Cluster.Silo.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Api;

/// <summary>
/// Turns what would otherwise be an empty or HTML error into the API's JSON shape: bodies over the size
/// limit (413), malformed requests (400), Redis being unreachable or a grain's silo gone (503) and anything unexpected (500).
/// </summary>
public sealed partial class ApiErrorMiddleware(RequestDelegate next, IOptions<ClusterOptions> options, ILogger<ApiErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxRequestBytes;
        if (context.Request.ContentLength > limit)
        {
            LiftKestrelLimit(context); // so that Kestrel drains the unread body after the answer instead of resetting the connection
            await ApiError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ApiError.PayloadTooLarge, TooLarge(limit)).ConfigureAwait(false);
            return;
        }
        if (context.Request.ContentLength is null && context.Request.Headers.TransferEncoding.Count > 0)
        {
            // Counted by the stream rather than Kestrel, so that Kestrel can drain what is left (see BodyLimitStream).
            LiftKestrelLimit(context);
            context.Request.Body = new BodyLimitStream(context.Request.Body, context, limit);
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            var message = e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(limit) : e.Message;
            await ApiError.WriteAsync(context, e.StatusCode, ApiError.CodeFor(e.StatusCode), message).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && IsRedisUnreachable(e))
        {
            LogRedisUnavailable(logger, context.Request.Method, context.Request.Path, e.Message);
            await ApiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ApiError.Unavailable, "Redis is not reachable right now; try again shortly").ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && IsClusterUnanswered(e))
        {
            LogClusterUnanswered(logger, context.Request.Method, context.Request.Path, e.Message);
            context.Response.Headers.RetryAfter = "1";
            await ApiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ApiError.Unavailable,
                "The cluster could not answer in time (a silo may have just stopped and its grains are being found again); try again shortly").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client went away; nobody is left to answer
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            LogUnhandled(logger, e, context.Request.Method, context.Request.Path);
            await ApiError.WriteAsync(context, StatusCodes.Status500InternalServerError, ApiError.Internal,
                "The silo failed to handle this request; the log has the details (trace id " + context.TraceIdentifier + ")").ConfigureAwait(false);
        }
    }

    /// <summary>Also when a grain's storage met it: Orleans wraps what the storage provider threw.</summary>
    private static bool IsRedisUnreachable(Exception e)
    {
        for (var cause = e; cause is not null; cause = cause.InnerException)
            if (cause is RedisConnectionException or RedisTimeoutException) return true;
        return false;
    }

    /// <summary>
    /// A grain call that met a silo which died, or no answer within Orleans' response timeout: until the cluster declares
    /// that silo dead its grains cannot be reached, and after that they are found again on the survivors.
    /// </summary>
    private static bool IsClusterUnanswered(Exception e) => e is Orleans.Runtime.OrleansMessageRejectionException or TimeoutException;

    private static void LiftKestrelLimit(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize) bodySize.MaxRequestBodySize = null;
    }

    public static string TooLarge(long limit) => $"The request body is larger than {limit} bytes (Cluster:MaxRequestBytes)";

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} failed: Redis unavailable ({Reason})")]
    private static partial void LogRedisUnavailable(ILogger logger, string method, PathString path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} failed: the cluster did not answer ({Reason})")]
    private static partial void LogClusterUnanswered(ILogger logger, string method, PathString path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, PathString path);
}
