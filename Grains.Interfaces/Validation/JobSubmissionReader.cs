using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Grains.Interfaces.Validation;

/// <summary>
/// Reads seed 001's submission body — a flat object whose reserved fields (type, priority, requirements,
/// max_retries, timeout_ms, idempotency_key, webhook_url, webhook_events) steer the job and which as a whole is the
/// job's payload — and checks every field, so that nothing malformed reaches Redis.
/// </summary>
public static class JobSubmissionReader
{
    /// <summary>The fields that steer the job rather than feed it; a connector strips them before handing the payload on.</summary>
    public static readonly IReadOnlyList<string> SteeringFields =
        ["type", "priority", "requirements", "max_retries", "timeout_ms", "idempotency_key", "webhook_url", "webhook_events"];

    public static readonly IReadOnlySet<string> Pools = new HashSet<string>(StringComparer.Ordinal) { "fast-lane", "standard", "heavy" };
    private const long MaxTimeoutMs = 7L * 24 * 3600 * 1000;
    private const int MaxCapabilities = 64;
    internal const int MaxUrlLength = 2048;

    internal const string WebhookUrlProblem = "'webhook_url' must be an absolute http or https URL";

    internal static bool IsWebhookUrl(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    /// <summary>Returns the submission, or null with <paramref name="problem"/> saying what is wrong.</summary>
    /// <param name="hasInputs">A workflow step with dependencies: see <see cref="JobTypeCatalog.FindProblem"/>.</param>
    public static JobSubmission? Read(JsonNode? body, JobTypeCatalog catalog, out string? problem, string? idempotencyKey = null, bool hasInputs = false)
    {
        problem = null;
        if (body is not JsonObject job) return Fail("Validation failed: the job must be a JSON object", out problem);
        try
        {
            var type = Text(job, "type", required: true, maxLength: JobLimits.MaxIdLength)!;
            var priority = Integer(job, "priority", JobLimits.MinPriority, JobLimits.MaxPriority) ?? JobLimits.DefaultPriority;
            var maxRetries = Integer(job, "max_retries", 0, JobLimits.MaxRetriesLimit) ?? JobLimits.DefaultMaxRetries;
            var timeoutMs = Integer(job, "timeout_ms", 0, MaxTimeoutMs) ?? 0;
            var key = Text(job, "idempotency_key", maxLength: JobLimits.MaxIdLength) ?? NullIfEmpty(idempotencyKey);
            if (key is { Length: > JobLimits.MaxIdLength }) throw new FormatException($"'idempotency_key' must be at most {JobLimits.MaxIdLength} characters");
            var webhook = Text(job, "webhook_url", maxLength: MaxUrlLength);
            if (webhook is not null && !IsWebhookUrl(webhook)) throw new FormatException(WebhookUrlProblem);
            var webhookEvents = ReadWebhookEvents(job["webhook_events"]);
            if (webhookEvents is not null && webhook is null) throw new FormatException("'webhook_events' needs a 'webhook_url'");
            var requirements = ReadRequirements(job["requirements"]);
            if (catalog.FindProblem(type, job, hasInputs) is { } schemaProblem) return Fail(schemaProblem, out problem);
            return new JobSubmission
            {
                Type = type, Payload = job, Priority = (int)priority, Requirements = requirements,
                MaxRetries = (int)maxRetries, TimeoutMs = timeoutMs, IdempotencyKey = key, WebhookUrl = webhook, WebhookEvents = webhookEvents,
            };
        }
        catch (FormatException e)
        {
            return Fail("Validation failed: " + e.Message, out problem);
        }
    }

    /// <summary>Events besides the terminal ones a job's webhook is sent; an empty list is the same as none.</summary>
    public static readonly IReadOnlySet<string> OptionalWebhookEvents = new HashSet<string>(StringComparer.Ordinal) { "failed", "progress" };

    private static IReadOnlyList<string>? ReadWebhookEvents(JsonNode? node)
    {
        if (node is null) return null;
        if (node is not JsonArray list || list.Any(e => e is not JsonValue v || v.GetValueKind() != JsonValueKind.String || !OptionalWebhookEvents.Contains(v.GetValue<string>())))
            throw new FormatException("'webhook_events' must be an array of \"failed\" and \"progress\" (terminal events are always sent)");
        return list.Count == 0 ? null : list.Select(e => e!.GetValue<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public static JobRequirements? ReadRequirements(JsonNode? node)
    {
        if (node is null) return null;
        if (node is not JsonObject req) throw new FormatException("'requirements' must be an object");
        var gpu = req["gpu_memory"] switch
        {
            null => (double?)null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.GetValue<double>() is >= 0 and <= 1_000_000 => v.GetValue<double>(),
            _ => throw new FormatException("'requirements.gpu_memory' must be a number of GB from 0 to 1000000"),
        };
        var pool = Text(req, "pool_preference", maxLength: 32, path: "requirements.");
        if (pool is not null && !Pools.Contains(pool))
            throw new FormatException($"'requirements.pool_preference' must be one of {string.Join(", ", Pools)}");
        return new JobRequirements
        {
            GpuMemory = gpu,
            ModelType = Text(req, "model_type", maxLength: JobLimits.MaxIdLength, path: "requirements."),
            Capabilities = Strings(req["capabilities"], "requirements.capabilities"),
            PoolPreference = pool,
        };
    }

    public static IReadOnlyList<string>? Strings(JsonNode? node, string path)
    {
        if (node is null) return null;
        if (node is not JsonArray array || array.Count > MaxCapabilities
            || array.Any(i => i is not JsonValue v || v.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Length is 0 or > JobLimits.MaxIdLength))
            throw new FormatException($"'{path}' must be an array of at most {MaxCapabilities} non-empty strings");
        return array.Select(i => i!.GetValue<string>()).ToArray();
    }

    private static string? Text(JsonObject obj, string name, bool required = false, int maxLength = int.MaxValue, string path = "")
    {
        switch (obj[name])
        {
            case null when required: throw new FormatException($"'{path}{name}' is required");
            case null: return null;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                var text = v.GetValue<string>();
                if (required && text.Length == 0) throw new FormatException($"'{path}{name}' must not be empty");
                if (text.Length > maxLength) throw new FormatException($"'{path}{name}' must be at most {maxLength} characters");
                return text;
            default: throw new FormatException($"'{path}{name}' must be a string");
        }
    }

    private static long? Integer(JsonObject obj, string name, long min, long max)
    {
        var node = obj[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d)
            && double.IsInteger(d) && d >= min && d <= max)
            return (long)d;
        throw new FormatException($"'{name}' must be a whole number from {min} to {max}");
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static JobSubmission? Fail(string message, out string? problem)
    {
        problem = message;
        return null;
    }
}
