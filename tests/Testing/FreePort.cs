using System.Net;
using System.Net.Sockets;

namespace Cluster.Testing;

public static class FreePort
{
    /// <summary>A loopback port nothing listens on (it was free a moment ago, and nothing in these tests binds fixed ports).</summary>
    public static int Take()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
