using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cluster.Grains.RedisServer;

/// <summary>What to start: where redis-server keeps its files, and how.</summary>
public sealed record RedisServerSettings
{
    /// <summary>Folder for the append-only file, the pid file and the log; created if missing.</summary>
    public required string DataDirectory { get; init; }
    /// <summary>Keep an append-only file so that acknowledged writes survive a restart.</summary>
    public bool AppendOnly { get; init; } = true;
    /// <summary>A fixed port, or 0 for a free loopback port.</summary>
    public int Port { get; init; }
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Sets <c>requirepass</c>: clients must authenticate as the default user with this password.</summary>
    public string? Password { get; init; }
    /// <summary>Further redis-server options as command-line pairs, such as <c>["--maxmemory", "100mb"]</c>.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

/// <summary>
/// A redis-server child process on a loopback port: the silo's embedded default, and the real server
/// every integration test runs against. A server orphaned by a killed parent is found through its pid
/// file and stopped before a new one starts in the same folder.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private const string PidFileName = "redis-server.pid";
    private const string PortFileName = "redis-server.port";

    public const string InstallHint =
        "redis-server was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server) " +
        "or point the silo at a running server with Redis__ConnectionString=host:port.";

    private readonly Process _process;
    private readonly bool _isChild;
    private readonly ILogger? _logger;
    private readonly string? _password;
    private bool _disposed;

    private RedisServerProcess(Process process, bool isChild, int port, string dataDirectory, string? password, ILogger? logger)
    {
        _process = process;
        _isChild = isChild;
        Port = port;
        DataDirectory = dataDirectory;
        _password = password;
        _logger = logger;
    }

    public int Port { get; }
    public string DataDirectory { get; }
    public int ProcessId => _process.Id;
    /// <summary>How to reach it, with the password when one is required.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}" + (_password is null ? "" : $",password={_password}");
    public bool HasExited => _disposed || _process.HasExited;

    public static async Task<RedisServerProcess> StartAsync(RedisServerSettings settings, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var executable = FindOnPath("redis-server") ?? throw new RedisConfigurationException(InstallHint);
        var directory = Path.GetFullPath(settings.DataDirectory);
        Directory.CreateDirectory(directory);
        var pidFile = Path.Combine(directory, PidFileName);
        if (RunningServerPid(pidFile) is { } orphan)
        {
            logger?.LogWarning("Stopping redis-server (pid {Pid}) left running by a silo that did not shut down", orphan);
            await StopAsync(orphan).ConfigureAwait(false);
        }

        var port = settings.Port == 0 ? FreeLoopbackPort() : settings.Port;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", directory, "--pidfile", pidFile, "--daemonize", "no",
            "--appendonly", settings.AppendOnly ? "yes" : "no", "--save", "",
            "--logfile", Path.Combine(directory, "redis-server.log"),
        }) start.ArgumentList.Add(arg);
        if (settings.Password is not null)
        {
            start.ArgumentList.Add("--requirepass");
            start.ArgumentList.Add(settings.Password);
        }
        foreach (var arg in settings.ExtraArguments) start.ArgumentList.Add(arg);

        var process = Process.Start(start) ?? throw new RedisConfigurationException($"Could not start {executable}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServerProcess(process, isChild: true, port, directory, settings.Password, logger);
        try
        {
            await server.WaitUntilReadyAsync(settings.StartTimeout, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(directory, PortFileName), port.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        logger?.LogInformation("Embedded redis-server (pid {Pid}) listening on 127.0.0.1:{Port}, data in {Directory}", process.Id, port, directory);
        return server;
    }

    /// <summary>
    /// The server another process started in <paramref name="dataDirectory"/>, if it still runs and answers, so
    /// that several silos of one machine share one embedded server; null when there is none to share.
    /// </summary>
    public static async Task<RedisServerProcess?> AttachAsync(string dataDirectory, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetFullPath(dataDirectory);
        if (RunningServerPid(Path.Combine(directory, PidFileName)) is not { } pid) return null;
        var portFile = Path.Combine(directory, PortFileName);
        if (!File.Exists(portFile)
            || !int.TryParse((await File.ReadAllTextAsync(portFile, cancellationToken).ConfigureAwait(false)).Trim(), out var port)) return null;
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null;
        }
        var server = new RedisServerProcess(process, isChild: false, port, directory, password: null, logger);
        try
        {
            await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch (RedisServerStartException)
        {
            process.Dispose();
            return null;
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var probe = new ConfigurationOptions
        {
            EndPoints = { { IPAddress.Loopback, Port } },
            Password = _password,
            ClientName = "cluster-probe",
            ConnectTimeout = 1000,
            ConnectRetry = 0,
            AbortOnConnectFail = true,
        };
        while (true)
        {
            if (_process.HasExited)
                throw new RedisServerStartException($"redis-server exited with code {_process.ExitCode} on start; see {Path.Combine(DataDirectory, "redis-server.log")}");
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(probe).ConfigureAwait(false);
                await connection.GetDatabase().PingAsync().ConfigureAwait(false);
                return;
            }
            catch (StackExchange.Redis.RedisServerException e) when (e.Message.StartsWith("LOADING", StringComparison.Ordinal))
            {
                // still replaying its append-only file
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow >= deadline) throw new RedisServerStartException($"redis-server did not answer PING within {timeout.TotalSeconds:0} s");
            await Task.Delay(25, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Asks redis-server to stop (SIGTERM lets it finish the append-only file), and kills it if it will not.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_isChild)
        {
            await StopAsync(_process.Id).ConfigureAwait(false);
        }
        else if (!_process.HasExited)
        {
            _ = SendSigterm(_process.Id);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _logger?.LogWarning("redis-server (pid {Pid}) ignored SIGTERM; killing it", _process.Id);
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        _process.Dispose();
    }

    /// <summary>Lets go of a server this process attached to without stopping it: another silo still uses it.</summary>
    public void Detach()
    {
        _disposed = true;
        _process.Dispose();
    }

    /// <summary>The pid in the pid file when that process is a live redis-server.</summary>
    private static int? RunningServerPid(string pidFile)
    {
        if (!File.Exists(pidFile)) return null;
        if (!int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid)) return null;
        try
        {
            using var process = Process.GetProcessById(pid);
            if (!process.ProcessName.StartsWith("redis-server", StringComparison.Ordinal)) return null; // the pid was reused
        }
        catch (ArgumentException)
        {
            return null; // long gone
        }
        return IsZombie(pid) ? null : pid; // a zombie is dead, waiting for a parent that is gone to reap it
    }

    /// <summary>Stops a redis-server that is not this process's child (SIGTERM, then SIGKILL after 5 s).</summary>
    private static async Task StopAsync(int pid)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return;
        }
        using (process)
        {
            SendSigterm(pid);
            // Not WaitForExitAsync: the server is not our child, and once dead it may linger as a zombie forever.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (!process.HasExited && !IsZombie(pid))
            {
                if (DateTime.UtcNow > deadline)
                {
                    process.Kill();
                    return;
                }
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }

    /// <summary>True while the process runs: it exists and is not a zombie (exited, not yet reaped).</summary>
    public static bool IsRunning(int pid) => !IsZombie(pid);

    /// <summary>True when the process has exited but not been reaped (state Z in /proc/{pid}/stat), or is gone.</summary>
    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterName = stat.LastIndexOf(')');
            return afterName > 0 && afterName + 2 < stat.Length && stat[afterName + 2] == 'Z';
        }
        catch (IOException)
        {
            return true; // gone entirely
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static bool SendSigterm(int pid) => kill(pid, 15) == 0;

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054, CA5392 // a one-line libc call; LibraryImport source generation buys nothing here
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054, CA5392
}
