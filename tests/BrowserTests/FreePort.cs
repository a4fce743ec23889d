using System.Net;
using System.Net.Sockets;

namespace Cluster.BrowserTests;

internal static class FreePort
{
    /// <summary>A loopback port nothing listens on (it was free a moment ago).</summary>
    public static int Take()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
