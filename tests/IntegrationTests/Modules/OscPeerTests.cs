using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cluster.Grains.Modules.Osc;

namespace Cluster.IntegrationTests.Modules;

/// <summary>
/// The OSC codec against another implementation over real UDP: liblo's <c>oscsend</c> sends to a socket the codec reads,
/// and the codec's packets go to liblo's <c>oscdump</c> (both from Debian's <c>liblo-tools</c>).
/// </summary>
public sealed class OscPeerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Test]
    public async Task What_liblo_oscsend_sends_over_udp_is_decoded_with_every_type()
    {
        using var socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)socket.Client.LocalEndPoint!).Port;

        await RunAsync("oscsend", "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "/stage/light", "ifsTFNI", "42", "2.5", "hello world");
        var datagram = await socket.ReceiveAsync().WaitAsync(Deadline);

        Assert.That(OscCodec.TryDecode(datagram.Buffer, out var packet, out var error), Is.True, error);
        Assert.That(packet, Is.EqualTo(new OscMessage("/stage/light", 42, 2.5f, "hello world", true, false, null, OscInfinitum.Value)));
    }

    [Test]
    public async Task What_the_codec_sends_over_udp_liblo_oscdump_reads_as_sent_bundles_included()
    {
        using var dump = await OscDump.StartAsync();
        using var socket = new UdpClient();
        var message = new OscMessage("/mixer/fader", 7, 0.5f, "main", true, null, OscInfinitum.Value);
        var bundle = new OscBundle(OscBundle.Immediately, [new OscMessage("/a", 1), new OscMessage("/b", "two")]);

        await socket.SendAsync(OscCodec.Encode(message), new IPEndPoint(IPAddress.Loopback, dump.Port));
        await socket.SendAsync(OscCodec.Encode(bundle), new IPEndPoint(IPAddress.Loopback, dump.Port));
        var lines = await dump.LinesAsync(3);

        Assert.That(lines[0], Does.EndWith("/mixer/fader ifsTNI 7 0.500000 \"main\" #T Nil Infinitum"));
        Assert.That(lines[1], Does.EndWith("/a i 1"));
        Assert.That(lines[2], Does.EndWith("/b s \"two\""));
    }

    private static async Task RunAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        await process.WaitForExitAsync().WaitAsync(Deadline);
        Assert.That(process.ExitCode, Is.Zero, await process.StandardError.ReadToEndAsync());
    }

    /// <summary><c>oscdump -L</c> on a free UDP port, its lines collected as they come.</summary>
    private sealed class OscDump : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];

        private OscDump(Process process, int port)
        {
            _process = process;
            Port = port;
        }

        public int Port { get; }

        public static async Task<OscDump> StartAsync()
        {
            int port;
            using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
            var start = new ProcessStartInfo("oscdump") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { "-L", port.ToString(System.Globalization.CultureInfo.InvariantCulture) }) start.ArgumentList.Add(argument);
            var dump = new OscDump(Process.Start(start)!, port);
            dump._process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (dump._lines) dump._lines.Add(e.Data); };
            dump._process.BeginOutputReadLine();
            // oscdump says nothing when it listens: wait until its port is taken.
            await Cluster.Testing.Eventually.UntilAsync(() => Task.FromResult(IsTaken(port)), "oscdump listens", Deadline);
            return dump;
        }

        public Task<List<string>> LinesAsync(int count) =>
            Cluster.Testing.Eventually.HoldsAsync(() => { lock (_lines) return Task.FromResult(_lines.ToList()); }, lines => lines.Count >= count, Deadline, $"oscdump printed {count} lines");

        private static bool IsTaken(int port)
        {
            try
            {
                using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                return false;
            }
            catch (SocketException)
            {
                return true;
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
        }
    }
}
