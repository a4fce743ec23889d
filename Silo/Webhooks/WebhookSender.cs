using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Cluster.Silo.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// Sends due deliveries. Every silo runs this loop; a claim in Redis hands each attempt to one silo only, so
/// a delivery is POSTed once per attempt however many silos run. A 2xx answer marks it delivered; anything
/// else (an error status, a refused connection, a timeout) schedules the next attempt after 1 s, 2 s, 4 s…
/// until <see cref="WebhookOptions.MaxAttempts"/>, then marks it failed. A host that resolves only to refused
/// addresses fails the delivery at once. It runs apart from job processing, which never waits for it.
/// </summary>
public sealed partial class WebhookSender : BackgroundService
{
    public const string UserAgent = "Cluster-Webhooks/1";
    private readonly WebhookStore _store;
    private readonly WebhookSecret _secret;
    private readonly IOptions<WebhookOptions> _optionsAccessor;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _http;
    private readonly WakeSignal _wake = new();
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

    public WebhookSender(WebhookStore store, WebhookSecret secret, IOptions<WebhookOptions> options, ILogger<WebhookSender> logger)
    {
        _store = store;
        _secret = secret;
        _optionsAccessor = options;
        _logger = logger;
        // No redirects (they would lead past the address check), no proxy (the check must see the real target),
        // and a connect step of our own that only dials addresses the policy allows, whatever DNS says now.
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = ConnectAsync,
        })
        { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    // Read on use, so that a malformed value surfaces as the consumer's clear startup error, not a failed construction.
    private WebhookOptions Settings => _optionsAccessor.Value;

    /// <summary>Looks for due deliveries now rather than at the next poll.</summary>
    public void Wake() => _wake.Wake();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Settings.Enabled) return;
        var lease = Settings.Timeout + WebhookStore.LeaseMargin;
        var delay = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var wait = Settings.PollInterval;
                var free = Settings.MaxConcurrentSends - _inFlight.Count;
                if (free > 0)
                {
                    var claim = await _store.ClaimAsync(free, lease, stoppingToken).ConfigureAwait(false);
                    foreach (var delivery in claim.Deliveries) Start(delivery, stoppingToken);
                    if (claim.Deliveries.Count == free) continue;
                    if (claim.NextDueMs is { } next)
                    {
                        var untilNext = TimeSpan.FromMilliseconds(Math.Max(0, next - claim.NowMs));
                        if (untilNext < wait) wait = untilNext;
                    }
                }
                delay = TimeSpan.FromMilliseconds(100);
                if (wait > TimeSpan.Zero) await _wake.WaitAsync(wait, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                LogClaimFailed(e.Message);
                await Pause(delay, stoppingToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
        await Task.WhenAll(_inFlight.Values).ConfigureAwait(false);
    }

    /// <summary>Waits, or returns early and quietly when the silo stops.</summary>
    internal static async Task Pause(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Start(ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _inFlight[delivery.Id] = done.Task;
        _ = Task.Run(async () =>
        {
            try
            {
                await AttemptAsync(delivery, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException or OperationCanceledException)
            {
                // The outcome could not be recorded: the claim's lease runs out and the attempt is made again.
                LogRecordFailed(delivery.Id, e.Message);
            }
            finally
            {
                _inFlight.TryRemove(delivery.Id, out _);
                done.TrySetResult();
                Wake();
            }
        }, CancellationToken.None);
    }

    private async Task AttemptAsync(ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        int? status = null;
        string? error = null;
        var permanent = false;
        if (delivery.Attempt > Settings.MaxAttempts)
        {
            // Only when silos died while sending: the attempts they claimed count.
            error = $"no attempts left ({Settings.MaxAttempts} claimed)";
            permanent = true;
        }
        else if (WebhookUrlPolicy.CheckSyntax(delivery.Url, out var uri) is { } problem)
        {
            error = problem;
            permanent = true;
        }
        else
        {
            using var request = await RequestAsync(delivery, uri, stoppingToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(Settings.Timeout);
            try
            {
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                status = (int)response.StatusCode;
                if (!response.IsSuccessStatusCode) error = $"HTTP {status}";
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // The silo is stopping: this attempt was not made, so it does not count.
                await _store.ReleaseAsync(delivery, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                error = $"no answer within {Settings.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
            }
            catch (HttpRequestException e) when (Refusal(e) is { } refused)
            {
                error = refused.Message;
                permanent = true;
            }
            catch (HttpRequestException e)
            {
                error = e.HttpRequestError == HttpRequestError.Unknown ? e.Message : $"{e.HttpRequestError}: {e.Message}";
            }
        }

        var outcome = error is null ? DeliveryOutcome.Delivered
            : permanent || delivery.Attempt >= Settings.MaxAttempts ? DeliveryOutcome.Failed
            : DeliveryOutcome.Retrying;
        var retryDelay = outcome == DeliveryOutcome.Retrying ? Settings.RetryDelay(delivery.Attempt) : TimeSpan.Zero;
        var entry = new JsonObject
        {
            ["delivery_id"] = delivery.Id,
            ["event"] = delivery.Event,
            ["attempt"] = delivery.Attempt,
            ["at"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["outcome"] = outcome,
        };
        if (status is { } code) entry["status_code"] = code;
        if (error is not null) entry["error"] = error;
        if (outcome == DeliveryOutcome.Retrying) entry["retry_in_ms"] = (long)retryDelay.TotalMilliseconds;

        var recorded = await _store.FinishAsync(delivery, outcome, retryDelay, entry, status, error, CancellationToken.None).ConfigureAwait(false);
        if (!recorded) LogOutlived(delivery.Id, delivery.Attempt);
        else if (outcome == DeliveryOutcome.Delivered) LogDelivered(delivery.Id, delivery.Event, WebhookUrlPolicy.Redact(delivery.Url), delivery.Attempt);
        else if (outcome == DeliveryOutcome.Retrying) LogRetrying(delivery.Id, WebhookUrlPolicy.Redact(delivery.Url), delivery.Attempt, error!, (long)retryDelay.TotalMilliseconds);
        else LogFailed(delivery.Id, WebhookUrlPolicy.Redact(delivery.Url), delivery.Attempt, error!);
    }

    private async Task<HttpRequestMessage> RequestAsync(ClaimedDelivery delivery, Uri uri, CancellationToken cancellationToken)
    {
        var secret = await _secret.GetAsync(cancellationToken).ConfigureAwait(false);
        var target = uri;
        string? credentials = null;
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            // user:password@host becomes Basic authentication; the URL sent on has no credentials in it.
            credentials = Uri.UnescapeDataString(uri.UserInfo);
            target = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
        }
        var content = new ReadOnlyMemoryContent(delivery.Body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = content };
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        request.Headers.Add("X-Cluster-Signature", WebhookSignature.Sign(delivery.Body.Span, secret));
        request.Headers.Add("X-Cluster-Delivery", delivery.Id);
        request.Headers.Add("X-Cluster-Event", delivery.Event);
        request.Headers.Add("X-Cluster-Attempt", delivery.Attempt.ToString(CultureInfo.InvariantCulture));
        if (credentials is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return request;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (!Settings.AllowPrivateNetworks)
        {
            var allowed = addresses.Where(WebhookUrlPolicy.IsPublic).ToArray();
            if (allowed.Length == 0)
            {
                var first = addresses.FirstOrDefault();
                throw new WebhookRefusedException(first is null
                    ? $"{host} has no addresses"
                    : $"refused: {host} resolves to {first}, a {WebhookUrlPolicy.Describe(first)} address; webhooks go to public addresses only");
            }
            addresses = allowed;
        }
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private static WebhookRefusedException? Refusal(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is WebhookRefusedException refused) return refused;
        return null;
    }

    public override void Dispose()
    {
        _http.Dispose();
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {DeliveryId} ({Event}) delivered to {Target} on attempt {Attempt}")]
    private partial void LogDelivered(string deliveryId, string @event, string target, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} to {Target}: attempt {Attempt} failed ({Reason}); next in {DelayMs} ms")]
    private partial void LogRetrying(string deliveryId, string target, int attempt, string reason, long delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} to {Target} failed for good after attempt {Attempt}: {Reason}")]
    private partial void LogFailed(string deliveryId, string target, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId}: attempt {Attempt} outlived its claim; another silo has taken the delivery over")]
    private partial void LogOutlived(string deliveryId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId}: the outcome could not be recorded ({Reason}); the attempt will be made again")]
    private partial void LogRecordFailed(string deliveryId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for due webhooks failed: {Reason}")]
    private partial void LogClaimFailed(string reason);
}
