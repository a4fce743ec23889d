using Cluster.Grains.Streams;

namespace Cluster.Silo.Auth;

/// <summary>
/// Tells every silo at once that an API key was deleted or a session ended. The deleting silo appends the key's or
/// session's hash to the Redis stream <see cref="Stream"/> in the same step as the deletion; each silo follows that
/// stream with the tail it already keeps open (<see cref="StreamTails"/>) and drops the hash from its lookup cache. So
/// a revoked credential stops working everywhere as soon as the silos read the entry, not when their cache expires
/// (<c>Auth:LookupCacheDuration</c>), which only bounds how long a silo cut off from Redis keeps trusting it.
/// </summary>
public sealed class Revocations(StreamTails tails, ApiKeyStore keys, SessionStore sessions) : IHostedService, IDisposable
{
    /// <summary>The stream of revoked hashes: field <c>key</c> or <c>session</c>, capped at about <see cref="MaxLength"/> entries.</summary>
    public const string Stream = "auth:revocations";

    /// <summary>The entries the stream keeps: a silo reads each within milliseconds, so a few are plenty.</summary>
    public const int MaxLength = 1000;

    private IDisposable? _subscription;

    /// <summary>
    /// Follows the stream from its end. Not waited for, so that a silo whose Redis is not up yet still starts; a revocation
    /// in the silo's first moments, before its tail has read where the stream ends, is left to the cache's expiry.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = tails[Stream].Subscribe(OnRevoked);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void OnRevoked(IReadOnlyList<StreamEvent> batch)
    {
        foreach (var revoked in batch)
        {
            if (revoked["key"] is { } key) keys.Forget(key);
            if (revoked["session"] is { } session) sessions.Forget(session);
        }
    }

    public void Dispose() => _subscription?.Dispose();
}
