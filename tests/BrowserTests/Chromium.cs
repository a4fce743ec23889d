using Microsoft.Playwright;

namespace Cluster.BrowserTests;

/// <summary>
/// One headless Debian Chromium for the whole run (Playwright's own browser download cannot work here;
/// CI installs the <c>chromium</c> package). Each test opens its own context, so cookies never leak.
/// </summary>
[SetUpFixture]
public sealed class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static IPlaywright? s_playwright;
    private static IBrowser? s_browser;

    public static IBrowser Browser => s_browser ?? throw new InvalidOperationException("Chromium has not been launched");

    [OneTimeSetUp]
    public async Task LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is missing: the browser tests need Debian's Chromium (apt-get install chromium)");
        // A slow shared machine (2 cores, a silo and redis-server per test) needs more than the 5 s default.
        Assertions.SetDefaultExpectTimeout(20_000);
        s_playwright = await Playwright.CreateAsync();
        s_browser = await s_playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    [OneTimeTearDown]
    public async Task CloseAsync()
    {
        if (s_browser is not null) await s_browser.CloseAsync();
        s_playwright?.Dispose();
    }
}
