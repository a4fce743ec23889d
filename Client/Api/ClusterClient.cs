using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Client.Api;

/// <summary>
/// The typed HTTP client of the silo's API (docs/api.md). Every call sends the API key in <c>x-api-key</c>;
/// a refusal becomes a <see cref="ClusterApiException"/>. Given several silos, a call that cannot connect to the
/// current one goes to the next (any silo serves any request), and the client stays with the one that answered;
/// when none can be reached, the last <see cref="HttpRequestException"/> is thrown.
/// </summary>
public sealed class ClusterClient : IDisposable
{
    public const string ApiKeyHeader = "x-api-key";

    private readonly Uri[] _silos;
    private readonly string _apiKey;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private int _current;

    public ClusterClient(Uri baseAddress, string apiKey, HttpClient? http = null)
        : this([baseAddress ?? throw new ArgumentNullException(nameof(baseAddress))], apiKey, http)
    {
    }

    /// <param name="silos">The silos to use, the first first; the others are tried in turn when the current one cannot be reached.</param>
    public ClusterClient(IReadOnlyList<Uri> silos, string apiKey, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(silos);
        if (silos.Count == 0) throw new ArgumentException("Name at least one silo.", nameof(silos));
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        // A base without a trailing slash would drop its last segment when relative paths are resolved.
        _silos = [.. silos.Select(s => s.AbsoluteUri.EndsWith('/') ? s : new Uri(s.AbsoluteUri + "/"))];
        _apiKey = apiKey;
        _http = http ?? new HttpClient();
        _ownsHttp = http is null;
    }

    /// <summary>The silo the client talks to now.</summary>
    public Uri BaseAddress => _silos[Volatile.Read(ref _current)];

    /// <summary>How often <see cref="WatchAsync"/> polls.</summary>
    public TimeSpan WatchInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Submits one job; the whole object is the job (its reserved fields are read by the silo).</summary>
    public async Task<SubmitResult> SubmitAsync(JsonObject job, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        using var request = Request(HttpMethod.Post, "api/jobs/submit", job);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        var reply = await SendAsync<SubmitReply>(request, cancellationToken).ConfigureAwait(false);
        return new SubmitResult(reply.JobId, reply.Duplicate);
    }

    /// <summary>Submits up to 1,000 jobs at once; one invalid job rejects them all.</summary>
    public async Task<IReadOnlyList<string>> SubmitBatchAsync(IEnumerable<JsonObject> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var body = new JsonObject { ["jobs"] = new JsonArray(jobs.Select(j => (JsonNode)j.DeepClone()).ToArray()) };
        using var request = Request(HttpMethod.Post, "api/jobs/batch", body);
        var reply = await SendAsync<BatchReply>(request, cancellationToken).ConfigureAwait(false);
        return reply.JobIds;
    }

    /// <summary>The job as it is now, or null when the silo knows no job with that id.</summary>
    public async Task<JobState?> GetStatusAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, $"api/jobs/{Escape(jobId)}/status");
        try
        {
            return (await SendAsync<StatusReply>(request, cancellationToken).ConfigureAwait(false)).Job;
        }
        catch (ClusterApiException e) when (e.StatusCode == 404 && e.Code == ErrorCodes.JobNotFound)
        {
            return null;
        }
    }

    /// <summary>Cancels a job; returns its new status. A finished job is refused with INVALID_STATE.</summary>
    public async Task<string> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Post, $"api/jobs/{Escape(jobId)}/cancel", new JsonObject());
        return (await SendAsync<TransitionReply>(request, cancellationToken).ConfigureAwait(false)).Status;
    }

    /// <summary>Puts a dead, cancelled or delayed job back in line; returns its new status.</summary>
    public async Task<string> RetryAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Post, $"api/jobs/{Escape(jobId)}/retry", new JsonObject());
        return (await SendAsync<TransitionReply>(request, cancellationToken).ConfigureAwait(false)).Status;
    }

    /// <summary>One page of jobs, newest first; pass the page's <c>NextCursor</c> back for the next.</summary>
    public async Task<Page<JobState>> ListJobsAsync(JobListFilter? filter = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = Query(
            ("status", filter?.Status), ("type", filter?.Type), ("worker", filter?.Worker), ("machine", filter?.Machine),
            ("workflow", filter?.Workflow), ("cursor", cursor), ("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var request = Request(HttpMethod.Get, "api/jobs" + query);
        var reply = await SendAsync<JobsReply>(request, cancellationToken).ConfigureAwait(false);
        return new Page<JobState>(reply.Jobs ?? [], reply.NextCursor);
    }

    /// <summary>One page of machines with their workers; <paramref name="ids"/> picks machines (selective monitoring).</summary>
    public async Task<Page<MachineState>> ListMachinesAsync(string? cursor = null, int? limit = null, IReadOnlyCollection<string>? ids = null, CancellationToken cancellationToken = default)
    {
        var query = Query(("cursor", cursor), ("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("ids", ids is { Count: > 0 } ? string.Join(',', ids) : null));
        using var request = Request(HttpMethod.Get, "api/machines" + query);
        var reply = await SendAsync<MachinesReply>(request, cancellationToken).ConfigureAwait(false);
        return new Page<MachineState>(reply.Machines ?? [], reply.NextCursor);
    }

    /// <summary>One page of workers.</summary>
    public async Task<Page<WorkerState>> ListWorkersAsync(string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = Query(("cursor", cursor), ("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var request = Request(HttpMethod.Get, "api/workers" + query);
        var reply = await SendAsync<WorkersReply>(request, cancellationToken).ConfigureAwait(false);
        return new Page<WorkerState>(reply.Workers ?? [], reply.NextCursor);
    }

    /// <summary>
    /// Follows a job until it reaches a terminal status: yields its state first and then each time it changes.
    /// It polls the status route every <see cref="WatchInterval"/> for now; it switches to the event WebSocket
    /// once the silo has one, and callers keep the same contract.
    /// </summary>
    public async IAsyncEnumerable<JobState> WatchAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        JobState? previous = null;
        while (true)
        {
            var job = await GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false)
                ?? throw new ClusterApiException(404, ErrorCodes.JobNotFound, $"Job not found: {jobId}");
            if (previous is null || HasChanged(previous, job)) yield return job;
            if (JobStatus.IsTerminal(job.Status)) yield break;
            previous = job;
            await Task.Delay(WatchInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private static bool HasChanged(JobState before, JobState after) =>
        before.Status != after.Status || before.Progress != after.Progress
        || before.ProgressMessage != after.ProgressMessage || before.RetryCount != after.RetryCount
        || before.WorkerId != after.WorkerId;

    private HttpRequestMessage Request(HttpMethod method, string relativePath, JsonNode? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(BaseAddress, relativePath));
        request.Headers.Add(ApiKeyHeader, _apiKey);
        if (body is not null) request.Content = JsonContent.Create(body, options: ClusterJson.Options);
        return request;
    }

    /// <summary>
    /// Sends the request to the current silo, or, when it cannot be connected to (nothing was sent), to the next ones in
    /// turn: a connection refused or unreachable is safe to try elsewhere, even for a submission.
    /// </summary>
    private async Task<HttpResponseMessage> SendToAnySiloAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var start = Volatile.Read(ref _current);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError && attempt + 1 < _silos.Length)
            {
                var (from, to) = (_silos[(start + attempt) % _silos.Length], (start + attempt + 1) % _silos.Length);
                Volatile.Write(ref _current, to);
                request = Retarget(request, from, _silos[to]);
            }
        }
    }

    /// <summary>The same request to another silo: a message is sent once, so it is copied.</summary>
    private static HttpRequestMessage Retarget(HttpRequestMessage request, Uri from, Uri to)
    {
        var copy = new HttpRequestMessage(request.Method, new Uri(to, from.MakeRelativeUri(request.RequestUri!))) { Content = request.Content, Version = request.Version };
        foreach (var header in request.Headers) copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        return copy;
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await SendToAnySiloAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw ToException(response.StatusCode, response.ReasonPhrase, body);
        try
        {
            return JsonSerializer.Deserialize<T>(body, ClusterJson.Options)
                ?? throw new JsonException("The reply was JSON null.");
        }
        catch (JsonException e)
        {
            throw new ClusterApiException((int)response.StatusCode, "INVALID_REPLY",
                $"The silo's reply to {request.Method} {request.RequestUri?.AbsolutePath} could not be read: {e.Message}");
        }
    }

    internal static ClusterApiException ToException(HttpStatusCode status, string? reasonPhrase, string body)
    {
        ErrorReplyBody? error = null;
        try
        {
            error = JsonSerializer.Deserialize<ErrorReply>(body, ClusterJson.Options)?.Error;
        }
        catch (JsonException)
        {
            // Not the documented error shape (a proxy's page, say): fall back to the status line.
        }
        var code = string.IsNullOrEmpty(error?.Code) ? $"HTTP_{(int)status}" : error.Code;
        var message = !string.IsNullOrEmpty(error?.Message) ? error.Message
            : !string.IsNullOrWhiteSpace(body) && body.Length <= 300 ? body.Trim()
            : reasonPhrase ?? status.ToString();
        return new ClusterApiException((int)status, code, message);
    }

    private static string Escape(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return Uri.EscapeDataString(id);
    }

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var builder = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (string.IsNullOrEmpty(value)) continue;
            builder.Append(builder.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        return builder.ToString();
    }
}
