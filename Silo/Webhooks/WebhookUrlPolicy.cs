using System.Net;
using System.Net.Sockets;

namespace Cluster.Silo.Webhooks;

/// <summary>
/// Which webhook URLs the cluster will call. Only absolute http and https URLs, and — unless private networks
/// are allowed — only hosts that resolve to public unicast addresses: never loopback, private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), unspecified, "this network" (0/8) or multicast, so
/// that a job submitter cannot aim the cluster at services behind its firewall (SSRF). The job API checks at
/// submission; the sender checks again when it connects, since DNS may answer differently by then.
/// </summary>
public static class WebhookUrlPolicy
{
    private static readonly TimeSpan SubmissionLookupTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Why <paramref name="url"/> is refused at submission, or null if it may be stored.</summary>
    /// <remarks>
    /// A host that does not resolve right now is accepted: DNS may be briefly unavailable, and the check at send
    /// time decides then. A host that resolves to any refused address is refused.
    /// </remarks>
    public static async Task<string?> CheckAsync(string? url, bool allowPrivateNetworks, CancellationToken cancellationToken = default)
    {
        if (url is null) return null;
        if (CheckSyntax(url, out var uri) is { } problem) return problem;
        if (allowPrivateNetworks) return null;
        if (IsLocalName(uri.IdnHost)) return $"'webhook_url' host {uri.IdnHost} is a loopback name";
        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.IdnHost, out var literal)) addresses = [literal];
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(SubmissionLookupTimeout);
            try
            {
                addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return null;
            }
        }
        return addresses.FirstOrDefault(a => !IsPublic(a)) is { } refused
            ? $"'webhook_url' host {uri.IdnHost} resolves to {refused}, a {Describe(refused)} address; webhooks go to public addresses only"
            : null;
    }

    /// <summary>Why <paramref name="url"/> is not an absolute http(s) URL, or null with the parsed <paramref name="uri"/>.</summary>
    public static string? CheckSyntax(string url, out Uri uri)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out uri!) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            return "'webhook_url' must be an absolute http or https URL";
        return null;
    }

    /// <summary>True for a public unicast address, the only kind a webhook may reach by default.</summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return Describe(address) is null;
    }

    /// <summary>What kind of refused address this is ("loopback", "private"…), or null for a public one.</summary>
    public static string? Describe(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return "loopback";
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => "unspecified",
                10 => "private",
                172 when b[1] is >= 16 and <= 31 => "private",
                192 when b[1] == 168 => "private",
                169 when b[1] == 254 => "link-local",
                >= 224 => "multicast or reserved",
                _ => null,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any)) return "unspecified";
            if (address.IsIPv6LinkLocal) return "link-local";
            if (address.IsIPv6SiteLocal) return "site-local";
            if (address.IsIPv6Multicast) return "multicast or reserved";
            var b = address.GetAddressBytes();
            if ((b[0] & 0xfe) == 0xfc) return "private";
            // ::a.b.c.d (deprecated IPv4-compatible) would reach an IPv4 host; judge it as that host.
            if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0) return Describe(new IPAddress(b.AsSpan(12)));
            return null;
        }
        return "unsupported";
    }

    private static bool IsLocalName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>The URL as logs may show it: scheme, host and port, never user info, path or query.</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}" : "(invalid url)";
}
