using System.Net.Sockets;
using Cluster.Grains.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using IRedis = Cluster.Grains.Redis.IRedis;
using RedisException = Cluster.Grains.Redis.RedisException;
using RedisConnectionException = Cluster.Grains.Redis.RedisConnectionException;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Owns the silo's link to Redis: the StackExchange.Redis multiplexer that every component and Orleans' clustering,
/// storage, reminders and streams share; the project's own RESP client, which only the Lua engine (its functions, its
/// lease sweeper, the function library check) still uses (this class is what DI hands out as <see cref="IRedis"/>, so
/// that those can be constructed before Redis is up); and, when no connection string is configured, the embedded
/// redis-server they run on. Disposing it (at host shutdown) closes both connections and then stops that server
/// unless another silo still uses it.
/// </summary>
public sealed partial class SiloRedis(IOptions<RedisHostOptions> redisOptions, IOptions<ClusterOptions> clusterOptions, ILogger<SiloRedis> logger) : IRedis
{
    private const string Advice = "Set Redis__ConnectionString=host:port or unset it to use the embedded server.";
    private RedisClient? _client;
    private ConnectionMultiplexer? _multiplexer;
    private int _disposed;

    /// <summary>The shared client; available once <see cref="StartAsync"/> has returned.</summary>
    public IRedis Client => _client ?? throw new InvalidOperationException("Redis is not connected yet: SiloStartup connects it before the web server starts");

    public RedisOptions Options => Client.Options;

    /// <summary>The multiplexer the silo shares, Orleans' providers included; available once <see cref="StartAsync"/> has returned.</summary>
    public IConnectionMultiplexer Multiplexer => _multiplexer ?? throw new InvalidOperationException("Redis is not connected yet: SiloStartup connects it before Orleans starts");

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
    public EmbeddedRedis? EmbeddedServer { get; private set; }

    /// <summary>Starts the embedded server if there is no connection string, then connects; failures are <see cref="SiloStartupException"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = redisOptions.Value;
        if (options.UsesEmbeddedServer)
        {
            EmbeddedServer = await StartEmbeddedServerAsync(cancellationToken).ConfigureAwait(false);
            var embedded = RedisOptions.Parse(EmbeddedServer.Server.ConnectionString) with { ClientName = "cluster-silo" };
            _client = await ConnectAsync(embedded, cancellationToken).ConfigureAwait(false);
            _multiplexer = await ConnectMultiplexerAsync(embedded).ConfigureAwait(false);
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
        _multiplexer = await ConnectMultiplexerAsync(parsed).ConfigureAwait(false);
    }

    /// <summary>
    /// The same server through StackExchange.Redis. It reconnects by itself after Redis restarts
    /// (<c>AbortOnConnectFail = false</c>), so the silo's components and Orleans' providers recover without a silo restart.
    /// </summary>
    private static async Task<ConnectionMultiplexer> ConnectMultiplexerAsync(RedisOptions options)
    {
        var configuration = new ConfigurationOptions
        {
            EndPoints = { { options.Host, options.Port } },
            User = options.User,
            Password = options.Password,
            DefaultDatabase = options.Database,
            ClientName = options.ClientName + "-shared",
            AbortOnConnectFail = false,
            ConnectTimeout = (int)options.ConnectTimeout.TotalMilliseconds,
            SyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
            AsyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
        };
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        }
        catch (StackExchange.Redis.RedisException e)
        {
            throw new SiloStartupException($"cannot connect to Redis at {options}: {e.Message}. {Advice}", e);
        }
    }

    private async Task<EmbeddedRedis> StartEmbeddedServerAsync(CancellationToken cancellationToken)
    {
        var directory = clusterOptions.Value.EmbeddedRedisDir;
        try
        {
            return await EmbeddedRedis.StartAsync(directory, logger, cancellationToken).ConfigureAwait(false);
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
        if (_multiplexer is not null) await _multiplexer.DisposeAsync().ConfigureAwait(false);
        if (EmbeddedServer is not null)
        {
            var pid = EmbeddedServer.Server.ProcessId;
            await EmbeddedServer.DisposeAsync().ConfigureAwait(false);
            LogEmbeddedReleased(logger, pid);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to Redis at {Endpoint}")]
    private static partial void LogConnected(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded redis-server (pid {Pid}) released: stopped, unless another silo still uses it")]
    private static partial void LogEmbeddedReleased(ILogger logger, int pid);
}
