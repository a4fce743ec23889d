using System.Net;
using System.Net.Sockets;

namespace Cluster.EndToEndTests;

/// <summary>
/// A webhook endpoint for tests: a real HTTP server on a free loopback port that records every request. It can
/// answer the first few with HTTP 500, never answer the first one (as a receiver that hangs), or refuse all.
/// </summary>
internal sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener;
    private readonly int _refuseFirst;
    private readonly bool _holdFirst;
    private readonly Lock _gate = new();
    private readonly List<WebhookRequest> _requests = [];
    private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;

    /// <param name="refuseFirst">How many requests, counted from the first, get HTTP 500 (<see cref="int.MaxValue"/>: all).</param>
    /// <param name="holdFirst">Leave the first request unanswered until the receiver is disposed.</param>
    public WebhookReceiver(int refuseFirst = 0, bool holdFirst = false)
    {
        _refuseFirst = refuseFirst;
        _holdFirst = holdFirst;
        (_listener, Address) = Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public Uri Address { get; }

    /// <summary>The URL to give a job as its <c>webhook_url</c>.</summary>
    public string Url => new Uri(Address, "hooks/cluster?token=abc").ToString();

    /// <summary>Completes when the first request has arrived (and was recorded).</summary>
    public Task FirstArrived => _firstArrived.Task;

    public IReadOnlyList<WebhookRequest> Requests
    {
        get
        {
            lock (_gate) return [.. _requests];
        }
    }

    /// <summary>The requests that were answered 2xx.</summary>
    public IReadOnlyList<WebhookRequest> Accepted => Requests.Where(r => r.AnsweredWith is >= 200 and < 300).ToArray();

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            int number;
            int status;
            lock (_gate)
            {
                number = _requests.Count + 1;
                status = number <= _refuseFirst ? 500 : 200;
                var headers = context.Request.Headers;
                _requests.Add(new WebhookRequest(context.Request.HttpMethod, context.Request.Url!.PathAndQuery, headers["X-Cluster-Delivery"] ?? "",
                    headers["X-Cluster-Event"] ?? "", headers["X-Cluster-Signature"] ?? "", headers["User-Agent"] ?? "", context.Request.ContentType ?? "",
                    buffer.ToArray(), _holdFirst && number == 1 ? 0 : status));
            }
            if (number == 1) _firstArrived.TrySetResult();
            if (_holdFirst && number == 1) return; // never answered: the sender's connection dies with it
            context.Response.StatusCode = status;
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The sender went away mid-request; what was recorded stays recorded.
        }
    }

    private static (HttpListener, Uri) Start()
    {
        // A port can be taken between finding it free and binding it; try a few.
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var listener = new HttpListener();
            var prefix = $"http://127.0.0.1:{port}/";
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
                return (listener, new Uri(prefix));
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}

/// <summary>One request the receiver got, and the status it answered with (0: never answered).</summary>
internal sealed record WebhookRequest(string Method, string PathAndQuery, string DeliveryId, string Event, string Signature, string UserAgent, string ContentType, byte[] Body, int AnsweredWith);
