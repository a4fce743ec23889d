using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Auth;

/// <summary>
/// Dashboard sessions: <c>session:{sha256 of the session id}</c> holds the hash of the API key that opened
/// it and expires on its own. A session has whatever scopes its key has now, and dies with the key.
/// </summary>
public sealed class SessionStore(IConnectionMultiplexer redis, IOptions<AuthOptions> options) : IDisposable
{
    public const string KeyPrefix = "session:";
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 100_000 });

    /// <summary>Opens a session for the key and returns its id, the cookie's value.</summary>
    public async Task<string> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        var id = ApiKeySecret.RandomToken();
        var lifetime = TimeSpan.FromSeconds(Math.Max(1, (long)options.Value.SessionLifetime.TotalSeconds));
        await redis.GetDatabase().StringSetAsync(KeyPrefix + ApiKeySecret.Hash(id), key.Hash, lifetime).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>The hash of the API key behind a live session, or null.</summary>
    public async Task<string?> FindKeyHashAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        if (_cache.TryGetValue(hash, out string? cached)) return cached;
        var keyHash = (string?)await redis.GetDatabase().StringGetAsync(KeyPrefix + hash).WaitAsync(cancellationToken).ConfigureAwait(false);
        _cache.Set(hash, keyHash, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = options.Value.LookupCacheDuration });
        return keyHash;
    }

    public async Task DeleteAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        await redis.GetDatabase().KeyDeleteAsync(KeyPrefix + hash).WaitAsync(cancellationToken).ConfigureAwait(false);
        _cache.Remove(hash);
    }

    public void Dispose() => _cache.Dispose();
}
