using Cluster.Silo.Auth;

namespace Cluster.Silo.Hosting;

/// <summary>The line a person starting the silo looks for: where to point the browser, and where the admin key is.</summary>
public static class ReadyBanner
{
    public const string Prefix = "Cluster silo ready: ";

    public static void Print(WebApplication app)
    {
        var urls = app.Urls.Select(Openable).ToList();
        var keySource = app.Services.GetRequiredService<BootstrapApiKey>().Source;
        Console.Out.WriteLine($"{Prefix}{string.Join(' ', urls.Select(u => u + "/"))} (dashboard) · health {urls.FirstOrDefault()}/health/ready · admin API key: {keySource} · Ctrl+C stops it");
        Console.Out.Flush();
    }

    /// <summary>A wildcard bind address as something a browser can open.</summary>
    public static string Openable(string url) =>
        url.TrimEnd('/')
            .Replace("://[::]", "://localhost", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal)
            .Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://*", "://localhost", StringComparison.Ordinal);
}
