using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Auth;

/// <summary>
/// Sessions: <c>session:{sha256 of the session id}</c> holds the hash of the API key that opened it (the dashboard's
/// key sign-in) or <c>user:{id}</c> (a user's login), and expires on its own. A session has whatever scopes its key or
/// its user's role has now, and dies with the key or with the user's account being disabled.
/// </summary>
public sealed class SessionStore(IConnectionMultiplexer redis, IOptions<AuthOptions> options) : IDisposable
{
    public const string KeyPrefix = "session:";
    private readonly LookupCache<string> _cache = new();

    private const string UserPrefix = "user:";

    /// <summary>Opens a session for the key and returns its id, the cookie's value.</summary>
    public Task<string> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default) =>
        CreateAsync(key.Hash, cancellationToken);

    /// <summary>Opens a session for a user who logged in and returns its id: the cookie's value and the bearer token.</summary>
    public Task<string> CreateForUserAsync(string userId, CancellationToken cancellationToken = default) =>
        CreateAsync(UserPrefix + userId, cancellationToken);

    private async Task<string> CreateAsync(string target, CancellationToken cancellationToken)
    {
        var id = ApiKeySecret.RandomToken();
        var lifetime = TimeSpan.FromSeconds(Math.Max(1, (long)options.Value.SessionLifetime.TotalSeconds));
        await redis.GetDatabase().StringSetAsync(KeyPrefix + ApiKeySecret.Hash(id), target, lifetime).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>Who a live session belongs to: the hash of its API key or the id of its user; null if it is not live.</summary>
    public async Task<(string? KeyHash, string? UserId)?> FindAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var target = await FindTargetAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (target is null) return null;
        return target.StartsWith(UserPrefix, StringComparison.Ordinal) ? (null, target[UserPrefix.Length..]) : (target, null);
    }

    private Task<string?> FindTargetAsync(string sessionId, CancellationToken cancellationToken)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        return _cache.GetOrReadAsync(hash,
            async () => (string?)await redis.GetDatabase().StringGetAsync(KeyPrefix + hash).WaitAsync(cancellationToken).ConfigureAwait(false),
            _ => options.Value.LookupCacheDuration);
    }

    /// <summary>Ends a session here at once, and on the other silos as soon as they read its revocation (<see cref="Revocations"/>).</summary>
    public async Task DeleteAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        var database = redis.GetDatabase();
        var transaction = database.CreateTransaction();
        _ = transaction.KeyDeleteAsync(KeyPrefix + hash);
        _ = transaction.StreamAddAsync(Revocations.Stream, "session", hash, maxLength: Revocations.MaxLength, useApproximateMaxLength: true);
        await transaction.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        _cache.Forget(hash);
    }

    /// <summary>Drops a session from this silo's cache: it ended, here or on another silo.</summary>
    public void Forget(string hash) => _cache.Forget(hash);

    public void Dispose() => _cache.Dispose();
}
