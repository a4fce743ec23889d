using System.Net.Sockets;
using Cluster.Grains.Redis;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Owns the silo's link to Redis: the client every component shares (this class is what DI hands out as
/// <see cref="IRedis"/>, so that components can be constructed before Redis is up and use it once it is),
/// and, when no connection string is configured, the embedded redis-server it runs on. Disposing it (at host
/// shutdown) closes the client and then stops that server.
/// </summary>
public sealed partial class SiloRedis(IOptions<RedisHostOptions> redisOptions, IOptions<ClusterOptions> clusterOptions, ILogger<SiloRedis> logger) : IRedis
{
    private const string Advice = "Set Redis__ConnectionString=host:port or unset it to use the embedded server.";
    private RedisClient? _client;
    private int _disposed;

    /// <summary>The shared client; available once <see cref="StartAsync"/> has returned.</summary>
    public IRedis Client => _client ?? throw new InvalidOperationException("Redis is not connected yet: SiloStartup connects it before the web server starts");

    public RedisOptions Options => Client.Options;

    public Task<RespValue> ExecuteAsync(string command, params ReadOnlySpan<RedisArg> args) => Client.ExecuteAsync(command, args);

    public Task<RespValue> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Client.ExecuteAsync(command, args, cancellationToken, timeout);

    public Task<RespValue> ExecuteBlockingAsync(string command, RedisArg[] args, CancellationToken cancellationToken) =>
        Client.ExecuteBlockingAsync(command, args, cancellationToken);

    public Task<IAsyncDisposable> SubscribeAsync(IReadOnlyList<string> channels, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default) =>
        Client.SubscribeAsync(channels, onMessage, cancellationToken);

    public Task<RespValue[]> ExecutePipelineAsync(IReadOnlyList<RedisCommand> commands, CancellationToken cancellationToken = default) =>
        Client.ExecutePipelineAsync(commands, cancellationToken);

    public Task<IAsyncDisposable> SubscribeToPatternsAsync(IReadOnlyList<string> patterns, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default) =>
        Client.SubscribeToPatternsAsync(patterns, onMessage, cancellationToken);

    /// <summary>The embedded server, or null when the silo uses a configured one.</summary>
    public RedisServerProcess? EmbeddedServer { get; private set; }

    /// <summary>Starts the embedded server if there is no connection string, then connects; failures are <see cref="SiloStartupException"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = redisOptions.Value;
        if (options.UsesEmbeddedServer)
        {
            EmbeddedServer = await StartEmbeddedServerAsync(cancellationToken).ConfigureAwait(false);
            _client = await ConnectAsync(RedisOptions.Parse(EmbeddedServer.ConnectionString) with { ClientName = "cluster-silo" }, cancellationToken).ConfigureAwait(false);
            return;
        }

        RedisOptions parsed;
        try
        {
            parsed = RedisOptions.Parse(options.ConnectionString!);
        }
        catch (RedisConfigurationException e)
        {
            throw new SiloStartupException($"invalid Redis__ConnectionString: {e.Message}. {Advice}", e);
        }
        _client = await ConnectAsync(parsed, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RedisServerProcess> StartEmbeddedServerAsync(CancellationToken cancellationToken)
    {
        var directory = clusterOptions.Value.EmbeddedRedisDir;
        try
        {
            return await RedisServerProcess.StartAsync(
                new RedisServerSettings { DataDirectory = directory, AppendOnly = true }, logger, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisConfigurationException e)
        {
            throw new SiloStartupException(e.Message, e);
        }
        catch (RedisException e)
        {
            throw new SiloStartupException($"cannot start the embedded redis-server in {directory}: {e.Message}", e);
        }
    }

    private async Task<RedisClient> ConnectAsync(RedisOptions options, CancellationToken cancellationToken)
    {
        try
        {
            var client = await RedisClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            LogConnected(logger, options.ToString());
            return client;
        }
        catch (RedisConnectionException e)
        {
            var reason = e.InnerException is SocketException socket ? socket.SocketErrorCode.ToString()
                : e.InnerException is OperationCanceledException ? "timed out"
                : e.Message;
            throw new SiloStartupException($"cannot connect to Redis at {options}: {reason}. {Advice}", e);
        }
        catch (RedisException e)
        {
            throw new SiloStartupException($"Redis at {options} refused the connection: {e.Message}. Check the user and password in Redis__ConnectionString.", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // DI knows this instance as both SiloRedis and IRedis, so it may be disposed twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        if (_client is not null) await _client.DisposeAsync().ConfigureAwait(false);
        if (EmbeddedServer is not null)
        {
            var pid = EmbeddedServer.ProcessId;
            await EmbeddedServer.DisposeAsync().ConfigureAwait(false);
            LogEmbeddedStopped(logger, pid);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to Redis at {Endpoint}")]
    private static partial void LogConnected(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded redis-server (pid {Pid}) stopped")]
    private static partial void LogEmbeddedStopped(ILogger logger, int pid);
}
