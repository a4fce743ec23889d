namespace Cluster.Silo.Auth;

/// <summary>What Redis knows about one API key (never the key itself).</summary>
/// <param name="Hash">SHA-256 of the key, hex; the key's identity.</param>
/// <param name="Prefix">The first few characters of the key, for people to recognise it.</param>
/// <param name="Owner">The id of the user who made the key; empty for a key an admin key or the bootstrap made.</param>
/// <param name="RateLimit">Requests per second the key may make across all silos together; 0 for none but each silo's own bucket.</param>
public sealed record ApiKeyRecord(string Hash, string Name, IReadOnlyList<string> Scopes, string Prefix, DateTimeOffset CreatedAt, string Owner = "", int RateLimit = 0)
{
    /// <summary>A short, non-secret handle: the first 16 hex digits of the hash.</summary>
    public string Id => Hash[..16];
}
