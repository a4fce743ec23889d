using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cluster.Grains.Modules.Osc;
using Cluster.Testing;
using Microsoft.Extensions.Logging;

namespace Cluster.IntegrationTests.Modules;

/// <summary>The <c>osc-input</c> listener on a real UDP socket: liblo's <c>oscsend</c> and raw datagrams as senders.</summary>
public sealed class OscListenerTests
{
    // NUnit shares one instance between a fixture's tests: each test starts with its own.
    private ConcurrentQueue<(OscMessage Message, ulong TimeTag)> _received = new();
    private CollectingLogger _log = new();

    [SetUp]
    public void Reset() => (_received, _log) = (new(), new());

    private OscListener Listen(TimeSpan? malformedLogInterval = null) =>
        OscListener.Start(new IPEndPoint(IPAddress.Loopback, 0), (message, timeTag) =>
        {
            _received.Enqueue((message, timeTag));
            return ValueTask.CompletedTask;
        }, _log, malformedLogInterval);

    private Task UntilReceivedAsync(int count) =>
        Eventually.UntilAsync(() => Task.FromResult(_received.Count >= count), $"{count} messages received", TimeSpan.FromSeconds(10));

    [Test]
    public async Task Messages_from_oscsend_and_a_bundles_messages_are_handed_on_in_order_with_their_time_tag()
    {
        await using var listener = Listen();
        using var sender = new UdpClient();

        using (var oscsend = Process.Start("oscsend", ["127.0.0.1", listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "/sensor/level", "f", "0.75"]))
            await oscsend.WaitForExitAsync();
        await UntilReceivedAsync(1);
        await sender.SendAsync(OscCodec.Encode(new OscBundle(42, [new OscMessage("/a", 1), new OscMessage("/b", 2)])), new IPEndPoint(IPAddress.Loopback, listener.Port));
        await UntilReceivedAsync(3);

        Assert.That(_received.Select(r => (r.Message, r.TimeTag)), Is.EqualTo(new[]
        {
            (new OscMessage("/sensor/level", 0.75f), OscBundle.Immediately),
            (new OscMessage("/a", 1), 42UL),
            (new OscMessage("/b", 2), 42UL),
        }));
        Assert.That(listener.Received, Is.EqualTo(2));
    }

    [Test]
    public async Task Malformed_datagrams_are_counted_and_logged_once_per_interval_and_the_listener_goes_on()
    {
        await using var listener = Listen(malformedLogInterval: TimeSpan.FromHours(1));
        using var sender = new UdpClient();
        var to = new IPEndPoint(IPAddress.Loopback, listener.Port);

        foreach (var garbage in new[] { "not osc"u8.ToArray(), new byte[] { 0x2f, 0x78, 0, 0, 0x2c, 0x71, 0, 0 }, new byte[3] })
            await sender.SendAsync(garbage, to);
        await sender.SendAsync(OscCodec.Encode(new OscMessage("/still/listening", "yes")), to);
        await UntilReceivedAsync(1);

        Assert.That(_received.Single().Message, Is.EqualTo(new OscMessage("/still/listening", "yes")));
        Assert.That(listener.Malformed, Is.EqualTo(3));
        Assert.That(_log.Warnings, Has.Count.EqualTo(1), "one report for the interval, not one per packet");
        Assert.That(_log.Warnings.Single(), Does.Contain("1 malformed OSC packet"));
    }

    private sealed class CollectingLogger : ILogger
    {
        public ConcurrentQueue<string> Entries { get; } = new();

        public List<string> Warnings => [.. Entries.Where(e => e.StartsWith("Warning", StringComparison.Ordinal))];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
