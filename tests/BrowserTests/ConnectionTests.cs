using Cluster.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>The dashboard says plainly when the gateway is gone, reconnects by itself and misses nothing.</summary>
public sealed class ConnectionTests : DashboardTest
{
    private string _dataDirectory = null!;

    [SetUp]
    public void CreateDataDirectory()
    {
        _dataDirectory = Path.Combine(Path.GetTempPath(), "cluster-tests", "browser-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDirectory);
    }

    [TearDown]
    public void DeleteDataDirectory()
    {
        try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Test]
    public async Task The_disconnected_banner_shows_while_the_silo_is_down_and_clears_when_it_returns_with_no_event_lost()
    {
        var settings = new SiloSettings { Port = FreePort.Take(), DataDirectory = _dataDirectory };
        var first = await StartSiloAsync(settings);
        // While `blocked`, the page's attempts to open /ws are refused, as if the silo were still away.
        var blocked = false;
        var page = await OpenDashboardAsync(beforeNavigation: p => p.RouteWebSocketAsync("**/ws", async ws =>
        {
            if (blocked) await ws.CloseAsync();
            else ws.ConnectToServer();
        }));
        var status = page.GetByTestId("connection-status");
        var banner = page.GetByTestId("disconnected-banner");
        await Expect(banner).ToBeHiddenAsync();
        var before = await SubmitAsync();
        await Expect(JobRow(before)).ToBeVisibleAsync();

        await StopSiloAsync(first);
        await Expect(status).ToHaveTextAsync("Disconnected");
        await Expect(banner).ToBeVisibleAsync();
        await Expect(banner).ToContainTextAsync("Disconnected — reconnecting…");
        await ScreenshotAsync("disconnected");

        blocked = true;
        await StartSiloAsync(settings);
        var missed = await SubmitAsync(); // the page is not subscribed while this happens
        await Expect(status).ToHaveTextAsync("Disconnected");
        blocked = false;

        await Expect(status).ToHaveTextAsync("Connected");
        await Expect(banner).ToBeHiddenAsync();
        // Resubscribed with `since`: the job submitted while away arrives once, above the one before.
        await Expect(JobRows.First).ToHaveAttributeAsync("data-job-id", missed);
        await Expect(JobRows).ToHaveCountAsync(2);
        Assert.That(await VisibleJobIdsAsync(), Is.EqualTo(new[] { missed, before }));
        await ScreenshotAsync("reconnected");
    }
}
