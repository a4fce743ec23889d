using Cluster.Grains.Redis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Cluster.Silo.Auth;

/// <summary>
/// Dashboard sessions: <c>session:{sha256 of the session id}</c> holds the hash of the API key that opened
/// it and expires on its own. A session has whatever scopes its key has now, and dies with the key.
/// </summary>
public sealed class SessionStore(IRedis redis, IOptions<AuthOptions> options) : IDisposable
{
    public const string KeyPrefix = "session:";
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 100_000 });

    /// <summary>Opens a session for the key and returns its id, the cookie's value.</summary>
    public async Task<string> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        var id = ApiKeySecret.RandomToken();
        var seconds = (long)Math.Max(1, options.Value.SessionLifetime.TotalSeconds);
        await redis.ExecuteAsync("SET", [KeyPrefix + ApiKeySecret.Hash(id), key.Hash, "EX", seconds], cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>The hash of the API key behind a live session, or null.</summary>
    public async Task<string?> FindKeyHashAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        if (_cache.TryGetValue(hash, out string? cached)) return cached;
        var keyHash = (await redis.ExecuteAsync("GET", [KeyPrefix + hash], cancellationToken).ConfigureAwait(false)).AsString();
        _cache.Set(hash, keyHash, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = options.Value.LookupCacheDuration });
        return keyHash;
    }

    public async Task DeleteAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(sessionId);
        await redis.ExecuteAsync("DEL", [KeyPrefix + hash], cancellationToken).ConfigureAwait(false);
        _cache.Remove(hash);
    }

    public void Dispose() => _cache.Dispose();
}
