using System.Collections.Concurrent;

namespace Cluster.Grains.Redis;

/// <summary>
/// The project's Redis client: one multiplexed connection for ordinary commands that reconnects with
/// backoff when the link dies, a pool of connections for blocking reads, and subscriptions.
/// </summary>
public sealed class RedisClient : IRedis
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan BlockingReplyTimeout = TimeSpan.FromDays(3650);
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentBag<RedisConnection> _blockingPool = [];
    private Task<RedisConnection> _connection;

    private RedisClient(RedisOptions options, RedisConnection connection)
    {
        Options = options;
        _connection = Task.FromResult(connection);
        WatchForLoss(connection);
    }

    public RedisOptions Options { get; }

    /// <summary>Connects, failing with <see cref="RedisConnectionException"/> if Redis cannot be reached now.</summary>
    public static async Task<RedisClient> ConnectAsync(RedisOptions options, CancellationToken cancellationToken = default)
    {
        var connection = await RedisConnection.OpenAsync(options, null, cancellationToken).ConfigureAwait(false);
        return new RedisClient(options, connection);
    }

    public static Task<RedisClient> ConnectAsync(string connectionString, CancellationToken cancellationToken = default) =>
        ConnectAsync(RedisOptions.Parse(connectionString), cancellationToken);

    public Task<RespValue> ExecuteAsync(string command, params ReadOnlySpan<RedisArg> args) =>
        ExecuteAsync(command, args, CancellationToken.None);

    public Task<RespValue> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var current = _connection;
        if (current.IsCompletedSuccessfully && current.Result.IsHealthy)
            return current.Result.Send(command, args, cancellationToken, timeout);
        return ExecuteWhenConnectedAsync(command, args.ToArray(), cancellationToken, timeout);
    }

    private async Task<RespValue> ExecuteWhenConnectedAsync(string command, RedisArg[] args, CancellationToken cancellationToken, TimeSpan? timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var connecting = _connection;
        try
        {
            var connection = await connecting.WaitAsync(timeout ?? Options.CommandTimeout, cancellationToken).ConfigureAwait(false);
            return await connection.Send(command, args, cancellationToken, timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new RedisConnectionException($"Redis at {Options} is unreachable; still reconnecting");
        }
    }

    private void WatchForLoss(RedisConnection connection) =>
        connection.Closed.ContinueWith(_ => Reconnect(connection), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private void Reconnect(RedisConnection lost)
    {
        if (_disposed.IsCancellationRequested) return;
        var reconnecting = ReconnectLoopAsync();
        // Only the first to notice a loss replaces the connection.
        var current = _connection;
        if (current.IsCompletedSuccessfully && ReferenceEquals(current.Result, lost))
            Interlocked.CompareExchange(ref _connection, reconnecting, current);
    }

    private async Task<RedisConnection> ReconnectLoopAsync()
    {
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            _disposed.Token.ThrowIfCancellationRequested();
            try
            {
                var connection = await RedisConnection.OpenAsync(Options, null, _disposed.Token).ConfigureAwait(false);
                WatchForLoss(connection);
                return connection;
            }
            catch (RedisException)
            {
                await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    public async Task<RespValue> ExecuteBlockingAsync(string command, RedisArg[] args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        if (!_blockingPool.TryTake(out var connection) || !connection.IsHealthy)
            connection = await RedisConnection.OpenAsync(Options with { ClientName = Options.ClientName + "-blocking" }, null, cancellationToken).ConfigureAwait(false);
        var healthy = false;
        try
        {
            // The server decides how long to block; the client waits as long as the caller lets it.
            var reply = await connection.Send(command, args, cancellationToken, BlockingReplyTimeout).ConfigureAwait(false);
            healthy = true;
            return reply;
        }
        catch (RedisServerException)
        {
            healthy = true;
            throw;
        }
        finally
        {
            if (healthy && connection.IsHealthy && !_disposed.IsCancellationRequested) _blockingPool.Add(connection);
            else await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task<IAsyncDisposable> SubscribeAsync(IReadOnlyList<string> channels, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default)
    {
        var connection = await RedisConnection.OpenAsync(
            Options with { ClientName = Options.ClientName + "-subscriber" },
            push =>
            {
                var items = push.Items;
                if (items.Count == 3 && items[0].ToString() == "message") onMessage(items[1].ToString(), items[2]);
                else if (items.Count == 4 && items[0].ToString() == "pmessage") onMessage(items[2].ToString(), items[3]);
            },
            cancellationToken).ConfigureAwait(false);
        var args = channels.Select(c => (RedisArg)c).ToArray();
        await connection.Send("SUBSCRIBE", args, cancellationToken, null).ConfigureAwait(false);
        return connection;
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
        catch (Exception e) when (e is OperationCanceledException or RedisException) { }
        while (_blockingPool.TryTake(out var blocking)) await blocking.DisposeAsync().ConfigureAwait(false);
        _disposed.Dispose();
    }
}
