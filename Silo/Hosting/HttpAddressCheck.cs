using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Whether the web server's fixed ports are free, asked before anything else starts. The web server binds only after
/// Redis, the function library and the Orleans silo have started, which under load takes tens of seconds and joins
/// the cluster's membership; a silo that cannot serve HTTP must say so at once and join nothing. The web server's
/// own bind stays the authority: a port taken between this check and it still stops the silo, later.
/// </summary>
public static class HttpAddressCheck
{
    public static void ThrowIfInUse(IConfiguration configuration)
    {
        var urls = configuration[WebHostDefaults.ServerUrlsKey];
        if (string.IsNullOrWhiteSpace(urls)) return;
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try { address = BindingAddress.Parse(url); }
            catch (FormatException) { continue; } // the web server reports a malformed address itself
            if (address.IsUnixPipe || address.Port == 0) continue;
            foreach (var ip in AddressesOf(address.Host))
            {
                if (InUse(ip, address.Port)) throw new SiloStartupException($"Failed to bind to address {url}: address already in use.");
            }
        }
    }

    /// <summary>What the web server binds for a host: any address for a wildcard, IPv4 loopback for localhost (the one it cannot do without).</summary>
    private static IEnumerable<IPAddress> AddressesOf(string host) =>
        host is "*" or "+" ? [IPAddress.Any]
        : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? [IPAddress.Loopback]
        : IPAddress.TryParse(host.Trim('[', ']'), out var ip) ? [ip]
        : [];

    private static bool InUse(IPAddress ip, int port)
    {
        using var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(ip, port));
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return true;
        }
        catch (SocketException)
        {
            return false; // not ours to judge (no such interface, no IPv6, …): the web server says what is wrong
        }
    }
}
