using System.Net;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>
/// A webhook endpoint for tests: a real HTTP server on a free loopback port that records every request. It can
/// answer the first few with HTTP 500, never answer the first one (as a receiver that hangs), or refuse all.
/// </summary>
internal sealed class WebhookReceiver : IDisposable
{
    private readonly LocalHttpServer _server;
    private readonly int _refuseFirst;
    private readonly bool _holdFirst;
    private readonly Lock _gate = new();
    private readonly List<WebhookRequest> _requests = [];
    private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="refuseFirst">How many requests, counted from the first, get HTTP 500 (<see cref="int.MaxValue"/>: all).</param>
    /// <param name="holdFirst">Leave the first request unanswered until the receiver is disposed.</param>
    public WebhookReceiver(int refuseFirst = 0, bool holdFirst = false)
    {
        _refuseFirst = refuseFirst;
        _holdFirst = holdFirst;
        _server = new LocalHttpServer(AnswerAsync);
    }

    public Uri Address => _server.Address;

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

    private async Task AnswerAsync(HttpListenerContext context)
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

    public void Dispose() => _server.Dispose();
}

/// <summary>One request the receiver got, and the status it answered with (0: never answered).</summary>
internal sealed record WebhookRequest(string Method, string PathAndQuery, string DeliveryId, string Event, string Signature, string UserAgent, string ContentType, byte[] Body, int AnsweredWith);
