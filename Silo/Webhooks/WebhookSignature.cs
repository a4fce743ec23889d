using System.Security.Cryptography;
using System.Text;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// The <c>X-Cluster-Signature</c> header: <c>sha256=</c> and the lower-case hex HMAC-SHA256 of the exact body
/// bytes, keyed with the cluster's webhook secret. A receiver recomputes it over the raw body it read.
/// </summary>
public static class WebhookSignature
{
    public const string Prefix = "sha256=";

    public static string Sign(ReadOnlySpan<byte> body, string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body, mac);
        return Prefix + Convert.ToHexStringLower(mac);
    }

    /// <summary>True if <paramref name="header"/> is the signature of <paramref name="body"/>; compares in constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> body, string secret, string? header)
    {
        if (string.IsNullOrEmpty(header) || string.IsNullOrEmpty(secret)) return false;
        var expected = Encoding.ASCII.GetBytes(Sign(body, secret));
        var given = Encoding.ASCII.GetBytes(header.Trim());
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }
}
