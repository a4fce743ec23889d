namespace Cluster.Grains.Redis;

/// <summary>
/// The small surface the rest of the system uses to talk to Redis. Calls may be issued from any number
/// of threads at once; they share one pipelined connection. Blocking reads and subscriptions use
/// connections of their own so they never hold up other callers.
/// </summary>
public interface IRedis : IAsyncDisposable
{
    /// <summary>
    /// Sends one command and returns its reply; an error reply throws <see cref="RedisServerException"/>.
    /// The arguments are encoded or copied before this returns, so the caller may reuse their storage at once.
    /// </summary>
    Task<RespValue> ExecuteAsync(string command, params ReadOnlySpan<RedisArg> args);

    /// <summary>As <see cref="ExecuteAsync(string, ReadOnlySpan{RedisArg})"/>, with cancellation and an optional timeout of its own.</summary>
    Task<RespValue> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>
    /// Sends commands as one pipeline (back to back, one round trip) and returns every reply in order once
    /// the last has arrived. Error replies come back in place, as values of kind <see cref="RespKind.Error"/>.
    /// </summary>
    Task<RespValue[]> ExecutePipelineAsync(IReadOnlyList<RedisCommand> commands, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs a command that may block on the server (XREAD BLOCK, BLPOP…) on a connection of its own.
    /// Cancelling it closes that connection, which is the only way to unblock the server side.
    /// </summary>
    Task<RespValue> ExecuteBlockingAsync(string command, RedisArg[] args, CancellationToken cancellationToken);

    /// <summary>
    /// Subscribes to channels on a connection of their own, subscribing again after a reconnection.
    /// <paramref name="onMessage"/> receives (channel, message) on the connection's reader, one message at a time,
    /// so it should be quick and must not block, neither on Redis nor on this subscription's disposal (await
    /// it instead). Dispose the result to unsubscribe.
    /// </summary>
    Task<IAsyncDisposable> SubscribeAsync(IReadOnlyList<string> channels, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="SubscribeAsync"/>, for glob-style patterns (PSUBSCRIBE); <paramref name="onMessage"/> receives the actual channel.</summary>
    Task<IAsyncDisposable> SubscribeToPatternsAsync(IReadOnlyList<string> patterns, Action<string, RespValue> onMessage, CancellationToken cancellationToken = default);

    /// <summary>Where this client connects, without secrets.</summary>
    RedisOptions Options { get; }
}
