using Cluster.Grains.RedisServer;
using StackExchange.Redis;

namespace Cluster.Testing;

/// <summary>A real redis-server on a free loopback port in a temporary folder, for one test fixture.</summary>
public sealed class RedisFixture : IAsyncDisposable
{
    private readonly RedisServerSettings _settings;

    private RedisFixture(RedisServerSettings settings, RedisServerProcess server, ConnectionMultiplexer multiplexer)
    {
        _settings = settings;
        Server = server;
        Multiplexer = multiplexer;
    }

    /// <summary>The running server; replaced by <see cref="StartServerAgainAsync"/>.</summary>
    public RedisServerProcess Server { get; private set; }

    /// <summary>
    /// A StackExchange.Redis connection for tests to arrange and inspect what is in Redis. It reconnects by itself
    /// after <see cref="StartServerAgainAsync"/>, and may run admin commands (FLUSHALL, INFO, CONFIG).
    /// </summary>
    public ConnectionMultiplexer Multiplexer { get; }

    public IDatabase Database => Multiplexer.GetDatabase();

    public string ConnectionString => Server.ConnectionString;

    public static Task<RedisFixture> StartAsync(bool appendOnly = false) =>
        StartAsync(settings => settings with { AppendOnly = appendOnly });

    /// <summary>
    /// Starts a server that loses no acknowledged write: an append-only file fsynced before every reply
    /// (<c>appendonly yes</c>, <c>appendfsync always</c>), so that a server killed hard and started again on
    /// its folder (<see cref="KillServerAsync"/>, <see cref="StartServerAgainAsync"/>) holds everything it answered.
    /// </summary>
    public static Task<RedisFixture> StartDurableAsync() =>
        StartAsync(settings => settings with { AppendOnly = true, ExtraArguments = ["--appendfsync", "always"] });

    /// <summary>Starts a server with settings of the test's choosing (a password, extra options…).</summary>
    public static async Task<RedisFixture> StartAsync(Func<RedisServerSettings, RedisServerSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var directory = Path.Combine(Path.GetTempPath(), "cluster-tests", Guid.NewGuid().ToString("N"));
        var settings = configure(new RedisServerSettings { DataDirectory = directory, AppendOnly = false });
        var server = await RedisServerProcess.StartAsync(settings);
        try
        {
            var multiplexer = await ConnectMultiplexerAsync(server.ConnectionString);
            return new RedisFixture(settings with { Port = server.Port }, server, multiplexer);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A further StackExchange.Redis connection to <paramref name="connectionString"/> (a <see cref="RedisOptions"/> string:
    /// host:port with an optional password), which the caller disposes.
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectMultiplexerAsync(string connectionString)
    {
        var options = RedisOptions.Parse(connectionString);
        return ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { options.Host, options.Port } },
            Password = options.Password,
            AbortOnConnectFail = false,
            AllowAdmin = true,
            ClientName = "cluster-tests",
        });
    }

    public Task FlushAsync() => Database.ExecuteAsync("FLUSHALL");

    /// <summary>Stops the server the way a silo shutdown does (SIGTERM), leaving its folder and port for a restart.</summary>
    public ValueTask StopServerAsync() => Server.DisposeAsync();

    /// <summary>SIGKILL, as a crash or the OOM killer does: the server writes nothing more, its folder and port stay for a restart.</summary>
    public async Task KillServerAsync()
    {
        ProcessTools.Signal(Server.ProcessId, ProcessTools.SigKill);
        await Eventually.UntilAsync(() => Task.FromResult(Server.HasExited), "redis-server did not die of SIGKILL");
        await Server.DisposeAsync();
    }

    /// <summary>Starts a new server on the same port and folder, as after a crash or an upgrade.</summary>
    public async Task StartServerAgainAsync()
    {
        if (!Server.HasExited) throw new InvalidOperationException("Stop the server before starting it again");
        Server = await RedisServerProcess.StartAsync(_settings);
    }

    public async ValueTask DisposeAsync()
    {
        await Multiplexer.DisposeAsync();
        await Server.DisposeAsync();
        try { Directory.Delete(Server.DataDirectory, recursive: true); } catch (IOException) { }
    }
}
