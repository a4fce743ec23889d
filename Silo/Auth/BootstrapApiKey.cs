using Cluster.Grains.Interfaces;
using Cluster.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Auth;

/// <summary>
/// Makes sure an admin key exists so that someone can create the others. It is <c>Auth:BootstrapApiKey</c>
/// when configured; otherwise the key kept in <c>&lt;DataDir&gt;/bootstrap-api-key</c>, generated (and
/// printed once to the console, never to the log) on the first start.
/// </summary>
public sealed partial class BootstrapApiKey(ApiKeyStore keys, IOptions<AuthOptions> auth, IOptions<ClusterOptions> cluster, ILogger<BootstrapApiKey> logger)
{
    public const string KeyName = "bootstrap";
    public const string FileName = "bootstrap-api-key";

    /// <summary>Where the key came from, for the start banner.</summary>
    public string Source { get; private set; } = "";

    public string FilePath => Path.Combine(cluster.Value.FullDataDir, FileName);

    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        var configured = auth.Value.BootstrapApiKey?.Trim();
        if (!string.IsNullOrEmpty(configured))
        {
            var record = await keys.StoreAsync(configured, KeyName, [ApiScopes.Admin], cancellationToken: cancellationToken).ConfigureAwait(false);
            Source = "the one in Auth__BootstrapApiKey";
            LogEnsured(logger, record.Prefix, "Auth:BootstrapApiKey");
            return;
        }

        if (File.Exists(FilePath))
        {
            var kept = (await File.ReadAllTextAsync(FilePath, cancellationToken).ConfigureAwait(false)).Trim();
            if (kept.Length == 0) throw new SiloStartupException($"{FilePath} is empty; delete it to have a new bootstrap key generated, or set Auth__BootstrapApiKey");
            var record = await keys.StoreAsync(kept, KeyName, [ApiScopes.Admin], cancellationToken: cancellationToken).ConfigureAwait(false);
            Source = $"in {FilePath}";
            LogEnsured(logger, record.Prefix, FilePath);
            return;
        }

        var key = ApiKeySecret.Generate();
        await keys.StoreAsync(key, KeyName, [ApiScopes.Admin], cancellationToken: cancellationToken).ConfigureAwait(false);
        WriteOwnerOnly(FilePath, key + "\n");
        Source = $"in {FilePath}";
        // Straight to the console: the log file must never hold a usable key.
        Console.Out.WriteLine($"Generated the bootstrap admin API key (shown once; also saved to {FilePath}, mode 600):");
        Console.Out.WriteLine($"    {key}");
        Console.Out.Flush();
        LogGenerated(logger, FilePath);
    }

    private static void WriteOwnerOnly(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrap admin API key {Prefix}… from {Source} is in place")]
    private static partial void LogEnsured(ILogger logger, string prefix, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generated a bootstrap admin API key and saved it to {Path}; it was printed to the console once")]
    private static partial void LogGenerated(ILogger logger, string path);
}
