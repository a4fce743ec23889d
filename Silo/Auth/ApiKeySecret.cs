using System.Security.Cryptography;
using System.Text;

namespace Cluster.Silo.Auth;

/// <summary>How API keys and session ids are made and how they are stored: only their SHA-256 ever reaches Redis.</summary>
public static class ApiKeySecret
{
    /// <summary>Marks generated keys so that they are recognisable in configuration files and secret scanners.</summary>
    public const string GeneratedPrefix = "ck_";

    /// <summary>A new key: 256 random bits, URL-safe so it can travel in the <c>api_key</c> query parameter.</summary>
    public static string Generate() => GeneratedPrefix + RandomToken();

    /// <summary>256 random bits as unpadded base64url.</summary>
    public static string RandomToken() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Lower-case hex SHA-256 of the UTF-8 text: the key's identity in Redis.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// The first characters of a key, shown in listings so people can tell keys apart. A quarter of the key
    /// at most, so a short hand-chosen key does not give much of itself away.
    /// </summary>
    public static string VisiblePrefix(string key) => key[..Math.Min(10, key.Length / 4)];
}
