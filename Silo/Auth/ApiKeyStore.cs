using System.Globalization;
using Cluster.Grains.Interfaces;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Auth;

/// <summary>What <see cref="ApiKeyStore.DeleteAsync"/> found.</summary>
public enum ApiKeyDeletion { Deleted, NotFound, Ambiguous }

/// <summary>
/// API keys in Redis: a hash <c>apikey:{sha256}</c> (name, scopes, prefix, created_at, owner, rate_limit) per key and the set
/// <c>apikeys</c> of their hashes. Lookups are cached in memory briefly so that authenticating a request
/// rarely costs a round trip; deleting a key forgets it here at once, and on the other silos as soon as they read
/// its revocation (<see cref="Revocations"/>), well within the cache time.
/// </summary>
public sealed class ApiKeyStore(IConnectionMultiplexer redis, IOptions<AuthOptions> options) : IDisposable
{
    public const string KeyPrefix = "apikey:";
    public const string IndexKey = "apikeys";
    private static readonly TimeSpan UnknownKeyCacheDuration = TimeSpan.FromSeconds(5);
    private static readonly RedisKey Index = IndexKey;

    // One script per write so that the hash and the index never disagree. StackExchange.Redis runs a script given as
    // text by its SHA (EVALSHA), loading it once per server and again after a NOSCRIPT.
    private const string StoreScript = """
        redis.call('HSET', KEYS[1], 'name', ARGV[1], 'scopes', ARGV[2], 'prefix', ARGV[3], 'owner', ARGV[6], 'rate_limit', ARGV[7])
        redis.call('HSETNX', KEYS[1], 'created_at', ARGV[4])
        redis.call('SADD', KEYS[2], ARGV[5])
        return 1
        """;
    private const string DeleteScript = """
        redis.call('DEL', KEYS[1])
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'key', ARGV[1])
        return redis.call('SREM', KEYS[2], ARGV[1])
        """;

    private readonly LookupCache<ApiKeyRecord> _cache = new();

    /// <summary>Makes a new key; the returned plaintext is the only copy there will ever be.</summary>
    /// <param name="owner">The id of the user making the key; empty for an admin-made one.</param>
    /// <param name="rateLimit">Requests per second across all silos; 0 for none.</param>
    public async Task<(string Key, ApiKeyRecord Record)> CreateAsync(string name, IReadOnlyList<string> scopes, string owner = "", int rateLimit = 0, CancellationToken cancellationToken = default)
    {
        var key = ApiKeySecret.Generate();
        var record = await StoreAsync(key, name, scopes, owner, rateLimit, cancellationToken).ConfigureAwait(false);
        return (key, record);
    }

    /// <summary>Stores the key (hashed) with this name and these scopes, keeping its creation time if it already exists.</summary>
    public async Task<ApiKeyRecord> StoreAsync(string key, string name, IReadOnlyList<string> scopes, string owner = "", int rateLimit = 0, CancellationToken cancellationToken = default)
    {
        var hash = ApiKeySecret.Hash(key);
        var prefix = ApiKeySecret.VisiblePrefix(key);
        var createdAt = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        await Database.ScriptEvaluateAsync(StoreScript, [KeyPrefix + hash, Index], [name, string.Join(',', scopes), prefix, createdAt, hash, owner, rateLimit]).WaitAsync(cancellationToken).ConfigureAwait(false);
        _cache.Forget(hash);
        return await FindByHashAsync(hash, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("An API key just stored could not be read back");
    }

    /// <summary>The record of a presented key, or null if no such key exists.</summary>
    public Task<ApiKeyRecord?> FindByKeyAsync(string key, CancellationToken cancellationToken = default) =>
        FindByHashAsync(ApiKeySecret.Hash(key), cancellationToken);

    public Task<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default) =>
        _cache.GetOrReadAsync(hash, () => ReadAsync(hash, cancellationToken),
            record => record is null ? UnknownKeyCacheDuration : options.Value.LookupCacheDuration);

    /// <summary>Every key, oldest first.</summary>
    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var hashes = await Database.SetMembersAsync(Index).WaitAsync(cancellationToken).ConfigureAwait(false);
        var records = await Task.WhenAll(hashes.Select(h => ReadAsync(h.ToString(), cancellationToken))).ConfigureAwait(false);
        return [.. records.OfType<ApiKeyRecord>().OrderBy(r => r.CreatedAt).ThenBy(r => r.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Deletes the one key whose id (a prefix of its hash, 8 hex digits at least) or visible prefix is <paramref name="idOrPrefix"/>,
    /// among the keys of <paramref name="owner"/> when it is given (others' keys are not found).
    /// </summary>
    public async Task<(ApiKeyDeletion Outcome, ApiKeyRecord? Record)> DeleteAsync(string idOrPrefix, string? owner = null, CancellationToken cancellationToken = default)
    {
        var all = (await ListAsync(cancellationToken).ConfigureAwait(false)).Where(r => owner is null || r.Owner == owner);
        var matches = all.Where(r => r.Prefix == idOrPrefix
            || (idOrPrefix.Length >= 8 && r.Hash.StartsWith(idOrPrefix, StringComparison.OrdinalIgnoreCase))).ToList();
        if (matches.Count == 0) return (ApiKeyDeletion.NotFound, null);
        if (matches.Count > 1) return (ApiKeyDeletion.Ambiguous, null);
        var record = matches[0];
        await Database.ScriptEvaluateAsync(DeleteScript, [KeyPrefix + record.Hash, Index, Revocations.Stream], [record.Hash, Revocations.MaxLength]).WaitAsync(cancellationToken).ConfigureAwait(false);
        _cache.Forget(record.Hash);
        return (ApiKeyDeletion.Deleted, record);
    }

    private async Task<ApiKeyRecord?> ReadAsync(string hash, CancellationToken cancellationToken)
    {
        var entries = await Database.HashGetAllAsync(KeyPrefix + hash).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (entries.Length == 0) return null;
        string Field(string name)
        {
            foreach (var entry in entries)
                if (entry.Name == name) return entry.Value.ToString();
            return "";
        }
        var scopes = Field("scopes").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(ApiScopes.IsKnown).ToArray();
        DateTimeOffset.TryParse(Field("created_at"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var createdAt);
        _ = int.TryParse(Field("rate_limit"), NumberStyles.None, CultureInfo.InvariantCulture, out var rateLimit);
        return new ApiKeyRecord(hash, Field("name"), scopes, Field("prefix"), createdAt, Field("owner"), rateLimit);
    }

    private IDatabase Database => redis.GetDatabase();

    /// <summary>Drops a key from this silo's cache: it was deleted, here or on another silo.</summary>
    public void Forget(string hash) => _cache.Forget(hash);

    public void Dispose() => _cache.Dispose();
}
