using Microsoft.Extensions.Caching.Memory;

namespace Cluster.Silo.Auth;

/// <summary>
/// A silo's cache of credential lookups (API keys, sessions) by hash: bounded, so that a stream of made-up credentials
/// cannot grow it without limit, and emptied of a hash at once when it is revoked (<see cref="Revocations"/>). A lookup
/// that a revocation raced is answered but not kept: it may have read the very credential just before it went.
/// </summary>
internal sealed class LookupCache<T> : IDisposable where T : class
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private long _revocations;

    /// <summary>The cached lookup of <paramref name="hash"/>, else <paramref name="read"/>'s, kept for <paramref name="lifetime"/> of it.</summary>
    public async Task<T?> GetOrReadAsync(string hash, Func<Task<T?>> read, Func<T?, TimeSpan> lifetime)
    {
        if (_cache.TryGetValue(hash, out T? cached)) return cached;
        var revoked = Volatile.Read(ref _revocations);
        var value = await read().ConfigureAwait(false);
        if (revoked == Volatile.Read(ref _revocations))
            _cache.Set(hash, value, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = lifetime(value) });
        return value;
    }

    /// <summary>Drops a hash: revoked, here or on another silo, or rewritten.</summary>
    public void Forget(string hash)
    {
        Interlocked.Increment(ref _revocations);
        _cache.Remove(hash);
    }

    public void Dispose() => _cache.Dispose();
}
