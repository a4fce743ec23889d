using Cluster.Grains.RedisServer;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Owns the silo's link to Redis: the StackExchange.Redis multiplexer that every component and Orleans' clustering,
/// storage, reminders and streams share, and, when no connection string is configured, the embedded redis-server it
/// runs on. Disposing it (at host shutdown) closes the connection and then stops that server unless another silo
/// still uses it.
/// </summary>
public sealed partial class SiloRedis(IOptions<RedisHostOptions> redisOptions, IOptions<ClusterOptions> clusterOptions, ILogger<SiloRedis> logger) : IAsyncDisposable
{
    private const string Advice = "Set Redis__ConnectionString=host:port or unset it to use the embedded server.";
    private ConnectionMultiplexer? _multiplexer;
    private RedisOptions? _endpoint;
    private int _disposed;

    /// <summary>Where Redis is, without secrets in its <c>ToString</c>; available once <see cref="StartAsync"/> has returned.</summary>
    public RedisOptions Endpoint => _endpoint ?? throw new InvalidOperationException("Redis is not connected yet: SiloStartup connects it before the web server starts");

    /// <summary>The multiplexer the silo shares, Orleans' providers included; available once <see cref="StartAsync"/> has returned.</summary>
    public IConnectionMultiplexer Multiplexer => _multiplexer ?? throw new InvalidOperationException("Redis is not connected yet: SiloStartup connects it before Orleans starts");

    /// <summary>The embedded server, or null when the silo uses a configured one.</summary>
    public EmbeddedRedis? EmbeddedServer { get; private set; }

    /// <summary>Starts the embedded server if there is no connection string, then connects; failures are <see cref="SiloStartupException"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = redisOptions.Value;
        if (options.UsesEmbeddedServer)
        {
            EmbeddedServer = await StartEmbeddedServerAsync(cancellationToken).ConfigureAwait(false);
            _endpoint = RedisOptions.Parse(EmbeddedServer.Server.ConnectionString) with { ClientName = "cluster-silo" };
        }
        else
        {
            try
            {
                _endpoint = RedisOptions.Parse(options.ConnectionString!);
            }
            catch (RedisConfigurationException e)
            {
                throw new SiloStartupException($"invalid Redis__ConnectionString: {e.Message}. {Advice}", e);
            }
        }
        _multiplexer = await ConnectAsync(_endpoint).ConfigureAwait(false);
        LogConnected(logger, _endpoint.ToString());
    }

    /// <summary>
    /// Connects once, so that a wrong address or password stops the silo with a clear message; after that the
    /// multiplexer reconnects by itself when Redis restarts, so the silo's components and Orleans' providers recover
    /// without a silo restart.
    /// </summary>
    private static async Task<ConnectionMultiplexer> ConnectAsync(RedisOptions options)
    {
        var configuration = new ConfigurationOptions
        {
            EndPoints = { { options.Host, options.Port } },
            User = options.User,
            Password = options.Password,
            DefaultDatabase = options.Database,
            ClientName = options.ClientName + "-shared",
            Protocol = options.Protocol == 3 ? RedisProtocol.Resp3 : RedisProtocol.Resp2,
            AbortOnConnectFail = true,
            ConnectTimeout = (int)options.ConnectTimeout.TotalMilliseconds,
            SyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
            AsyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
        };
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        }
        catch (RedisConnectionException e) when (e.FailureType is ConnectionFailureType.AuthenticationFailure)
        {
            throw new SiloStartupException($"Redis at {options} refused the connection: {e.Message}. Check the user and password in Redis__ConnectionString.", e);
        }
        catch (RedisException e)
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
        catch (RedisServerStartException e)
        {
            throw new SiloStartupException($"cannot start the embedded redis-server in {directory}: {e.Message}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
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
