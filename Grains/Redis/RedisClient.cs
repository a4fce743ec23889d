using System.Collections.Concurrent;

namespace Cluster.Grains.Redis;

/// <summary>
/// The project's Redis client: one multiplexed connection for ordinary commands that reconnects with
/// backoff when the link dies, a pool of connections for blocking reads, and subscriptions.
/// </summary>
public sealed class RedisClient : IRedis
{
    private static readonly TimeSpan BlockingReplyTimeout = TimeSpan.FromDays(3650);
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentBag<RedisConnection> _idleBlocking = [];
    private readonly ConcurrentDictionary<RedisConnection, byte> _busyBlocking = new();
    private readonly ConcurrentDictionary<RedisSubscription, byte> _subscriptions = new();
    private Task<RedisConnection> _connection;

    private RedisClient(RedisOptions options, RedisConnection connection)
    {
        Options = options;
        _connection = Task.FromResult(connection);
        ReconnectWhenLost(connection);
    }

    public RedisOptions Options { get; }

    /// <summary>Connects, failing with <see cref="RedisConnectionException"/> if Redis cannot be reached now.</summary>
    public static async Task<RedisClient> ConnectAsync(RedisOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connection = await RedisConnection.OpenAsync(options, options.ClientName, null, cancellationToken).ConfigureAwait(false);
        return new RedisClient(options, connection);
    }

    /// <inheritdoc cref="ConnectAsync(RedisOptions, CancellationToken)"/>
    public static Task<RedisClient> ConnectAsync(string connectionString, CancellationToken cancellationToken = default) =>
        ConnectAsync(RedisOptions.Parse(connectionString), cancellationToken);

    public Task<RespValue> ExecuteAsync(string command, params ReadOnlySpan<RedisArg> args) =>
        ExecuteAsync(command, args, CancellationToken.None);

    public Task<RespValue> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var current = _connection;
        if (current.IsCompletedSuccessfully && current.Result.IsHealthy)
            return current.Result.Send(command, args, cancellationToken, timeout);
        return ExecuteWhenConnectedAsync(command, args.ToArray(), cancellationToken, timeout ?? Options.CommandTimeout);
    }

    public async Task<RespValue[]> ExecutePipelineAsync(IReadOnlyList<RedisCommand> commands, CancellationToken cancellationToken = default)
    {
        var current = _connection;
        var connection = current.IsCompletedSuccessfully && current.Result.IsHealthy
            ? current.Result
            : await HealthyConnectionAsync(Environment.TickCount64 + (long)Options.CommandTimeout.TotalMilliseconds, Options.CommandTimeout, cancellationToken).ConfigureAwait(false);
        return await connection.SendPipeline(commands, cancellationToken, null).ConfigureAwait(false);
    }

    private async Task<RespValue> ExecuteWhenConnectedAsync(string command, RedisArg[] args, CancellationToken cancellationToken, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var connection = await HealthyConnectionAsync(deadline, timeout, cancellationToken).ConfigureAwait(false);
        return await connection.Send(command, args, cancellationToken, Remaining(deadline)).ConfigureAwait(false);
    }

    /// <summary>Waits for a live connection, through reconnections, until <paramref name="deadline"/> (a <see cref="Environment.TickCount64"/>).</summary>
    private async Task<RedisConnection> HealthyConnectionAsync(long deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            RedisConnection connection;
            try
            {
                connection = await CurrentConnection().WaitAsync(Remaining(deadline), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new RedisConnectionException($"Redis at {Options} is unreachable; still reconnecting after {timeout.TotalSeconds:0.###} s");
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ObjectDisposedException(nameof(RedisClient));
            }
            if (connection.IsHealthy) return connection;
        }
    }

    private static TimeSpan Remaining(long deadline) => TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));

    /// <summary>The live connection, or the reconnection under way. Whoever first sees the link dead starts the reconnection.</summary>
    private Task<RedisConnection> CurrentConnection()
    {
        var seen = _connection;
        if (!seen.IsCompletedSuccessfully || seen.Result.IsHealthy || _disposed.IsCancellationRequested) return seen;
        var reconnection = new TaskCompletionSource<RedisConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var winner = Interlocked.CompareExchange(ref _connection, reconnection.Task, seen);
        if (!ReferenceEquals(winner, seen)) return winner;
        _ = ReconnectAsync(seen.Result, reconnection);
        return reconnection.Task;
    }

    private void ReconnectWhenLost(RedisConnection connection) =>
        connection.Closed.ContinueWith(_ => CurrentConnection(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async Task ReconnectAsync(RedisConnection lost, TaskCompletionSource<RedisConnection> reconnection)
    {
        await lost.DisposeAsync().ConfigureAwait(false);
        var backoff = new Backoff();
        while (true)
        {
            try
            {
                var connection = await RedisConnection.OpenAsync(Options, Options.ClientName, null, _disposed.Token).ConfigureAwait(false);
                if (_disposed.IsCancellationRequested)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    break;
                }
                reconnection.SetResult(connection);
                ReconnectWhenLost(connection);
                return;
            }
            catch (RedisException)
            {
                // Unreachable, still loading, or refusing us for now: try again, less often each time.
            }
            catch (OperationCanceledException)
            {
                break;
            }
            try
            {
                await Task.Delay(backoff.Next(), _disposed.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        reconnection.TrySetCanceled(_disposed.Token);
    }

    public async Task<RespValue> ExecuteBlockingAsync(string command, RedisArg[] args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var connection = await RentBlockingConnectionAsync(cancellationToken).ConfigureAwait(false);
        _busyBlocking[connection] = 0;
        var reusable = false;
        try
        {
            // The server decides how long to block; the client waits as long as the caller lets it.
            var reply = await connection.Send(command, args, cancellationToken, BlockingReplyTimeout).ConfigureAwait(false);
            reusable = true;
            return reply;
        }
        catch (RedisServerException)
        {
            reusable = true;
            throw;
        }
        catch (RedisConnectionException) when (_disposed.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(RedisClient));
        }
        finally
        {
            // A cancelled call leaves the server blocked on that connection, so only closing it ends the call.
            _busyBlocking.TryRemove(connection, out _);
            if (reusable && connection.IsHealthy && !_disposed.IsCancellationRequested) _idleBlocking.Add(connection);
            else await connection.DisposeAsync().ConfigureAwait(false);
            if (_disposed.IsCancellationRequested) await CloseIdleBlockingConnectionsAsync().ConfigureAwait(false);
        }
    }

    private async Task<RedisConnection> RentBlockingConnectionAsync(CancellationToken cancellationToken)
    {
        while (_idleBlocking.TryTake(out var idle))
        {
            if (idle.IsHealthy) return idle;
            await idle.DisposeAsync().ConfigureAwait(false);
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        return await RedisConnection.OpenAsync(Options, Options.ClientName + "-blocking", null, linked.Token).ConfigureAwait(false);
    }

    public Task<IAsyncDisposable> SubscribeAsync(IReadOnlyList<string> channels, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default) =>
        StartSubscriptionAsync(channels, [], onMessage, cancellationToken);

    public Task<IAsyncDisposable> SubscribeToPatternsAsync(IReadOnlyList<string> patterns, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default) =>
        StartSubscriptionAsync([], patterns, onMessage, cancellationToken);

    private async Task<IAsyncDisposable> StartSubscriptionAsync(IReadOnlyList<string> channels, IReadOnlyList<string> patterns, Action<string, RespValue> onMessage, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var subscription = await RedisSubscription.StartAsync(Options, channels, patterns, onMessage, s => _subscriptions.TryRemove(s, out _), cancellationToken).ConfigureAwait(false);
        _subscriptions[subscription] = 0;
        if (_disposed.IsCancellationRequested) await subscription.DisposeAsync().ConfigureAwait(false);
        return subscription;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        await _disposed.CancelAsync().ConfigureAwait(false);
        try
        {
            var connection = await _connection.ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // it was reconnecting, and has given up
        }
        foreach (var busy in _busyBlocking.Keys) await busy.DisposeAsync().ConfigureAwait(false);
        await CloseIdleBlockingConnectionsAsync().ConfigureAwait(false);
        foreach (var subscription in _subscriptions.Keys) await subscription.DisposeAsync().ConfigureAwait(false);
    }

    private async Task CloseIdleBlockingConnectionsAsync()
    {
        while (_idleBlocking.TryTake(out var idle)) await idle.DisposeAsync().ConfigureAwait(false);
    }
}
