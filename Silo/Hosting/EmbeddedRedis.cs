using System.Globalization;
using Cluster.Grains.RedisServer;

namespace Cluster.Silo.Hosting;

/// <summary>
/// The embedded redis-server of one data directory, shared by every silo started in it: the first starts the
/// server, the next ones attach to it, and the last to stop stops it. So a second silo on the same machine
/// joins the cluster with nothing but another <c>--urls</c>. Each silo marks its use with a file named by its
/// pid under <c>silos/</c>; a server that no live silo uses was orphaned by a killed silo and is replaced.
/// </summary>
public sealed partial class EmbeddedRedis : IAsyncDisposable
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _directory;
    private readonly string _marker;

    private EmbeddedRedis(RedisServerProcess server, bool startedHere, string directory, string marker)
    {
        Server = server;
        StartedHere = startedHere;
        _directory = directory;
        _marker = marker;
    }

    public RedisServerProcess Server { get; }

    /// <summary>True when this silo started the server, so no other live silo shares it.</summary>
    public bool StartedHere { get; }

    public static async Task<EmbeddedRedis> StartAsync(string directory, ILogger logger, CancellationToken cancellationToken)
    {
        var silos = Path.Combine(directory, "silos");
        Directory.CreateDirectory(silos);
        await using var gate = await LockAsync(directory, cancellationToken).ConfigureAwait(false);
        var server = LiveSilos(silos).Any()
            ? await RedisServerProcess.AttachAsync(directory, logger, cancellationToken).ConfigureAwait(false)
            : null;
        var startedHere = server is null;
        if (server is not null) LogAttached(logger, server.ProcessId, server.Port);
        server ??= await RedisServerProcess.StartAsync(new RedisServerSettings { DataDirectory = directory, AppendOnly = true }, logger, cancellationToken).ConfigureAwait(false);
        var marker = Path.Combine(silos, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        await File.WriteAllTextAsync(marker, "", cancellationToken).ConfigureAwait(false);
        return new EmbeddedRedis(server, startedHere, directory, marker);
    }

    /// <summary>Stops the server unless another live silo still uses it.</summary>
    public async ValueTask DisposeAsync()
    {
        await using var gate = await LockAsync(_directory, CancellationToken.None).ConfigureAwait(false);
        File.Delete(_marker);
        if (LiveSilos(Path.GetDirectoryName(_marker)!).Any()) Server.Detach();
        else await Server.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The pids of the other silos using this directory's server; markers of dead silos are removed.</summary>
    private static IEnumerable<int> LiveSilos(string silos)
    {
        foreach (var file in Directory.GetFiles(silos))
        {
            if (!int.TryParse(Path.GetFileName(file), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId) continue;
            if (RedisServerProcess.IsRunning(pid)) yield return pid;
            else File.Delete(file);
        }
    }

    /// <summary>
    /// Serialises start and stop decisions between the silos of one directory: .NET takes an exclusive
    /// advisory lock (flock) for <see cref="FileShare.None"/>, released when the stream is closed, also by a kill.
    /// </summary>
    private static async Task<FileStream> LockAsync(string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, "start.lock");
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sharing the embedded redis-server (pid {Pid}, port {Port}) another silo started in this data directory")]
    private static partial void LogAttached(ILogger logger, int pid, int port);
}
