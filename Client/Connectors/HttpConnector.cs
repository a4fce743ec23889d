using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.Client.Connectors;

/// <summary>
/// POSTs the job's payload to a URL (an Ollama <c>/api/generate</c>, a ComfyUI or any JSON endpoint) and returns
/// the reply: its JSON, or <c>{text}</c> when it is not JSON. A non-2xx reply fails the job with
/// <c>HTTP_{status}</c>, retryable for 5xx, 408 and 429 and not for other 4xx.
/// </summary>
public sealed class HttpConnector(Uri url, TimeSpan timeout, HttpClient? http = null) : IJobConnector, IDisposable
{
    private const int MaxReplyBytes = 16 * 1024 * 1024;
    private const int MaxErrorChars = 500;

    private readonly HttpClient _http = http ?? new HttpClient
    {
        // The per-job timeout below governs; the client's own would fire with a less helpful exception.
        Timeout = Timeout.InfiniteTimeSpan,
        MaxResponseContentBufferSize = MaxReplyBytes,
    };
    private readonly bool _ownsHttp = http is null;

    public async Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(progress);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        progress.Report((0, $"POST {url.GetLeftPart(UriPartial.Path)}"));
        try
        {
            using var response = await _http.PostAsync(url, JsonContent.Create(BodyFor(job), options: ClusterJson.Options), deadline.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                var detail = string.IsNullOrWhiteSpace(text) ? response.ReasonPhrase : Truncate(text.Trim());
                throw new JobFailedException($"HTTP_{status}", $"{url.GetLeftPart(UriPartial.Path)} answered {status}: {detail}", IsRetryable(response.StatusCode));
            }
            return ParseReply(text);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new JobFailedException("HTTP_TIMEOUT", $"{url.GetLeftPart(UriPartial.Path)} did not answer within {timeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e)
        {
            throw new JobFailedException("HTTP_UNREACHABLE", $"{url.GetLeftPart(UriPartial.Path)} could not be reached: {e.Message}");
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    internal static bool IsRetryable(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout;

    private static JsonObject BodyFor(JobState job)
    {
        var body = job.Payload is JsonObject payload ? (JsonObject)payload.DeepClone() : new JsonObject();
        foreach (var field in JobSubmissionReader.SteeringFields) body.Remove(field); // the service behind the URL has no use for them
        return body;
    }

    private static JsonNode? ParseReply(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return new JsonObject { ["text"] = text };
        }
    }

    private static string Truncate(string text) => text.Length <= MaxErrorChars ? text : text[..MaxErrorChars] + "…";
}
