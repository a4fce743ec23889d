using System.Diagnostics.Metrics;
using System.Text.Json.Serialization;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Silo.Hosting;

namespace Cluster.Silo.Api;

/// <summary>The body of every API error: <c>{"success":false,"error":{"code":"…","message":"…"}}</c>.</summary>
public sealed record ApiErrorBody([property: JsonPropertyName("error")] ApiErrorDetail Error)
{
    [JsonPropertyName("success"), JsonPropertyOrder(-1)]
    public bool Success => false;
}

public sealed record ApiErrorDetail([property: JsonPropertyName("code")] string Code, [property: JsonPropertyName("message")] string Message);

/// <summary>Writes API errors in the one shape clients can rely on.</summary>
public static class ApiError
{
    public const string BadRequest = "BAD_REQUEST";
    public const string ValidationError = "VALIDATION_ERROR";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Forbidden = "FORBIDDEN";
    public const string NotFound = "NOT_FOUND";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string Conflict = "CONFLICT";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string RateLimited = "RATE_LIMITED";
    public const string Internal = "INTERNAL_ERROR";
    public const string Unavailable = ErrorCodes.Unavailable;

    private static readonly Counter<long> Errors = Telemetry.Meter.CreateCounter<long>("cluster.api.errors", description: "API requests answered with an error, by code");

    /// <summary>An error as a minimal-API result.</summary>
    public static IResult Result(int status, string code, string message)
    {
        Count(code);
        return Results.Json(new ApiErrorBody(new ApiErrorDetail(code, message)), statusCode: status);
    }

    public static IResult Validation(string message) => Result(StatusCodes.Status400BadRequest, ValidationError, message);

    /// <summary>A refusal from a grain, with the status its code stands for.</summary>
    public static IResult From(ClusterException e) => Result(StatusFor(e.Code), e.Code, e.Message);

    public static int StatusFor(string code) => code switch
    {
        ErrorCodes.ValidationError or ErrorCodes.MachineIdRequired => StatusCodes.Status400BadRequest,
        ErrorCodes.JobNotFound or ErrorCodes.WorkerNotFound or ErrorCodes.MachineNotFound or ErrorCodes.WorkflowNotFound
            or ErrorCodes.NotFound => StatusCodes.Status404NotFound,
        ErrorCodes.StaleLease or ErrorCodes.InvalidState or ErrorCodes.DuplicateJob or ErrorCodes.WorkerOffline => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Writes an error directly, from middleware and handlers outside endpoint execution.</summary>
    public static Task WriteAsync(HttpContext context, int status, string code, string message)
    {
        Count(code);
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ApiErrorBody(new ApiErrorDetail(code, message)), context.RequestAborted);
    }

    /// <summary>Sets <c>Retry-After</c> to <paramref name="wait"/> in whole seconds, at least one.</summary>
    public static void RetryAfter(HttpResponse response, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The code for a bare status code, when nothing more specific is known.</summary>
    public static string CodeFor(int status) => status switch
    {
        400 => BadRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        409 => Conflict,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        429 => RateLimited,
        503 => Unavailable,
        >= 500 => Internal,
        _ => BadRequest,
    };

    private static void Count(string code) => Errors.Add(1, new KeyValuePair<string, object?>("code", code));
}
