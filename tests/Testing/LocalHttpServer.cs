using System.Net;
using System.Text;

namespace Cluster.Testing;

/// <summary>A real HTTP server on a free loopback port that answers every request with a handler of the test's.</summary>
public sealed class LocalHttpServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerContext, Task> _handler;
    private readonly Task _loop;

    public LocalHttpServer(Func<HttpListenerContext, Task> handler)
    {
        _handler = handler;
        (_listener, Address) = Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public Uri Address { get; }

    /// <summary>A handler that answers with a status and a body.</summary>
    public static Func<HttpListenerContext, Task> Reply(int status, string body, string contentType = "application/json") =>
        context => WriteAsync(context.Response, status, body, contentType);

    public static async Task WriteAsync(HttpListenerResponse response, int status, string body, string contentType = "application/json")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    public static async Task<string> ReadBodyAsync(HttpListenerRequest request)
    {
        using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
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
            // The loop ends with the listener; how it ends does not matter to the test.
        }
    }

    private static (HttpListener, Uri) Start()
    {
        // A port can be taken between finding it free and binding it; try a few.
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort.Take();
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
            _ = Task.Run(async () =>
            {
                try
                {
                    await _handler(context);
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                    // The client went away mid-answer (a cancelled request); that is the test's business, not the server's.
                }
            });
        }
    }
}
