namespace Cluster.Grains.Redis;

/// <summary>
/// Channels and patterns subscribed on a connection of their own. When the link dies it reconnects with
/// backoff and subscribes again; messages published while it was away are lost, as pub/sub always allows.
/// Disposing it closes the connection, which ends every subscription on it.
/// </summary>
public sealed class RedisSubscription : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly RedisArg[] _channels, _patterns;
    private readonly Action<string, RespValue> _onMessage;
    private readonly Action<RedisSubscription> _onDisposed;
    private readonly CancellationTokenSource _stopped = new();
    private TaskCompletionSource _confirmed = new();
    private int _unconfirmed;
    private RedisConnection? _connection;
    private Task _keepAlive = Task.CompletedTask;

    private RedisSubscription(RedisOptions options, IReadOnlyList<string> channels, IReadOnlyList<string> patterns,
        Action<string, RespValue> onMessage, Action<RedisSubscription> onDisposed)
    {
        _options = options;
        Channels = channels;
        Patterns = patterns;
        _channels = channels.Select(c => (RedisArg)c).ToArray();
        _patterns = patterns.Select(p => (RedisArg)p).ToArray();
        _onMessage = onMessage;
        _onDisposed = onDisposed;
    }

    public IReadOnlyList<string> Channels { get; }
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>How many times the link was lost and the subscriptions made again.</summary>
    public int Resubscriptions { get; private set; }

    internal static async Task<RedisSubscription> StartAsync(RedisOptions options, IReadOnlyList<string> channels, IReadOnlyList<string> patterns,
        Action<string, RespValue> onMessage, Action<RedisSubscription> onDisposed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(patterns);
        ArgumentNullException.ThrowIfNull(onMessage);
        if (channels.Count + patterns.Count == 0) throw new ArgumentException("Subscribe to at least one channel or pattern", nameof(channels));
        var subscription = new RedisSubscription(options, channels, patterns, onMessage, onDisposed);
        await subscription.ConnectAsync(cancellationToken).ConfigureAwait(false);
        subscription._keepAlive = subscription.KeepAliveAsync();
        return subscription;
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = await RedisConnection.OpenAsync(_options, _options.ClientName + "-subscriber", OnPush, cancellationToken).ConfigureAwait(false);
        try
        {
            _confirmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _unconfirmed, _channels.Length + _patterns.Length);
            connection.EnterSubscriberMode();
            if (_channels.Length > 0) connection.Post("SUBSCRIBE", _channels);
            if (_patterns.Length > 0) connection.Post("PSUBSCRIBE", _patterns);
            var first = await Task.WhenAny(_confirmed.Task, connection.Closed).WaitAsync(_options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            if (first != _confirmed.Task) throw connection.Failure ?? new RedisConnectionException("Lost the connection to Redis while subscribing");
            await first.ConfigureAwait(false);
            _connection = connection;
        }
        catch (Exception e)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            if (e is TimeoutException) throw new RedisConnectionException($"Redis at {_options} did not confirm the subscription within {_options.ConnectTimeout.TotalSeconds:0.#} s", e);
            throw;
        }
    }

    private async Task KeepAliveAsync()
    {
        var token = _stopped.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _connection!.Closed.WaitAsync(token).ConfigureAwait(false);
                await _connection.DisposeAsync().ConfigureAwait(false);
                var backoff = new Backoff();
                while (true)
                {
                    try
                    {
                        await ConnectAsync(token).ConfigureAwait(false);
                        Resubscriptions++;
                        break;
                    }
                    catch (RedisException)
                    {
                        await Task.Delay(backoff.Next(), token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private void OnPush(RespValue value)
    {
        if (value.IsError)
        {
            _confirmed.TrySetException(new RedisServerException(value.ToString()));
            return;
        }
        if (value.Kind is not (RespKind.Push or RespKind.Array) || value.Items.Count < 3) return;
        var items = value.Items;
        var kind = items[0].Bytes.Span;
        if (kind.SequenceEqual("message"u8)) _onMessage(items[1].ToString(), items[2]);
        else if (kind.SequenceEqual("pmessage"u8) && items.Count == 4) _onMessage(items[2].ToString(), items[3]);
        else if ((kind.SequenceEqual("subscribe"u8) || kind.SequenceEqual("psubscribe"u8)) && Interlocked.Decrement(ref _unconfirmed) == 0)
            _confirmed.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped.IsCancellationRequested) return;
        await _stopped.CancelAsync().ConfigureAwait(false);
        await _keepAlive.ConfigureAwait(false);
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _onDisposed(this);
    }
}
