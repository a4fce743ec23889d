using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Testing;
using Microsoft.Playwright;
using NUnit.Framework.Interfaces;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>
/// A real silo per test and a fresh browser context signed in through the dashboard's login form.
/// Screenshots go to the test's attachments and to <c>tests/BrowserTests/screenshots/</c> (git-ignored).
/// </summary>
public abstract class DashboardTest
{
    protected const string Key = "browser-tests-admin-key-0123456789abcdef";

    private readonly List<SiloProcess> _silos = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _console = new();
    private IBrowserContext? _context;

    protected SiloProcess Silo { get; private set; } = null!;
    protected IPage Page { get; private set; } = null!;

    protected static string ScreenshotDirectory { get; } = Path.Combine(RepositoryRoot.Path, "tests", "BrowserTests", "screenshots");

    /// <summary>Starts a silo (its address becomes <see cref="Silo"/>); stopped after the test unless disposed earlier.</summary>
    protected async Task<SiloProcess> StartSiloAsync(SiloSettings? settings = null)
    {
        settings ??= new SiloSettings();
        // The tests' workers do not heartbeat: leases and liveness must outlast a slow test, not lapse in it.
        var environment = new Dictionary<string, string>(settings.Environment) { ["Jobs__WorkerTimeout"] = "00:10:00", ["Jobs__Lease"] = "00:10:00" };
        Silo = await SiloProcess.StartReadyAsync(settings with { BootstrapApiKey = Key, Environment = environment });
        _silos.Add(Silo);
        return Silo;
    }

    /// <summary>Stops a silo with SIGTERM, as systemd does, and waits for it to exit.</summary>
    protected async Task StopSiloAsync(SiloProcess silo)
    {
        _silos.Remove(silo);
        await silo.DisposeAsync();
    }

    /// <summary>Opens the dashboard and signs in with the admin key, as a person would.</summary>
    protected async Task<IPage> OpenDashboardAsync(int width = 1440, int height = 1000, ColorScheme colorScheme = ColorScheme.Light, Func<IPage, Task>? beforeNavigation = null)
    {
        _context = await Chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Silo.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = colorScheme,
        });
        Page = await _context.NewPageAsync();
        Page.Console += (_, message) => _console.Enqueue($"console.{message.Type}: {message.Text}");
        Page.PageError += (_, error) => _console.Enqueue($"page error: {error}");
        if (beforeNavigation is not null) await beforeNavigation(Page);
        await Page.GotoAsync("/");
        await Page.GetByTestId("api-key").FillAsync(Key);
        await Page.GetByTestId("login-submit").ClickAsync();
        await Expect(Page.GetByTestId("connection-status")).ToHaveTextAsync("Connected");
        return Page;
    }

    protected ILocator JobRow(string jobId) => Page.Locator($"[data-testid=job-row][data-job-id='{jobId}']");

    protected ILocator JobRows => Page.GetByTestId("job-row");

    protected ILocator MachineCard(string machineId) => Page.Locator($"[data-testid=machine-card][data-machine-id='{machineId}']");

    protected Task<string[]> VisibleJobIdsAsync() => JobRows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)");

    protected Task<string> SubmitAsync(string type = "simulation", object? body = null)
    {
        var job = body is null ? new JsonObject() : JsonSerializer.SerializeToNode(body)!.AsObject();
        job["type"] = type;
        return Silo.SubmitAsync(Key, job);
    }

    protected async Task PostAsync(string path)
    {
        using var response = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, path, Key));
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }

    /// <summary>A worker on a real WebSocket, registered the way a machine agent registers its GPUs.</summary>
    protected async Task<RawWorker> WorkerAsync(string workerId, string machineId, int gpuIndex = 0, int gpuCount = 1, params string[] capabilities)
    {
        var worker = await RawWorker.ConnectAsync(Silo, Key);
        await worker.SendAsync(new JsonObject
        {
            ["v"] = 1, ["type"] = "register", ["worker_id"] = workerId, ["machine_id"] = machineId,
            ["host"] = machineId + ".lan", ["gpu_index"] = gpuIndex, ["gpu_count"] = gpuCount,
            ["capabilities"] = RawWorker.Capabilities(capabilities.Length > 0 ? capabilities : ["text-to-image"]),
        });
        var reply = await worker.ReceiveAsync(f => RawWorker.Text(f["type"]) is "registered" or "error");
        Assert.That(RawWorker.Text(reply["type"]), Is.EqualTo("registered"), reply.ToJsonString());
        return worker;
    }

    protected static Task<JsonObject> ProgressAsync(RawWorker worker, JsonObject assignment, double progress, string? message = null) =>
        worker.CommandAsync(new JsonObject
        {
            ["type"] = "progress", ["job_id"] = RawWorker.Text(assignment["job"]!["id"]),
            ["lease_token"] = RawWorker.Text(assignment["lease_token"]), ["progress"] = progress, ["message"] = message,
        });

    protected static Task<JsonObject> CompleteAsync(RawWorker worker, JsonObject assignment, JsonObject? result = null) =>
        worker.CommandAsync(new JsonObject
        {
            ["type"] = "complete", ["job_id"] = RawWorker.Text(assignment["job"]!["id"]),
            ["lease_token"] = RawWorker.Text(assignment["lease_token"]), ["result"] = result ?? new JsonObject { ["ok"] = true },
        });

    protected static Task<JsonObject> FailAsync(RawWorker worker, JsonObject assignment, string code, string message, bool retryable) =>
        worker.CommandAsync(new JsonObject
        {
            ["type"] = "fail", ["job_id"] = RawWorker.Text(assignment["job"]!["id"]),
            ["lease_token"] = RawWorker.Text(assignment["lease_token"]), ["retryable"] = retryable,
            ["error"] = new JsonObject { ["code"] = code, ["message"] = message },
        });

    /// <summary>Saves a full-page screenshot as a test attachment and under screenshots/; returns its path.</summary>
    protected async Task<string> ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        var path = Path.Combine(ScreenshotDirectory, $"{name}.png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.AddTestAttachment(path, name);
        return path;
    }

    [TearDown]
    public async Task TearDownDashboardAsync()
    {
        try
        {
            if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed && _context is not null)
            {
                var name = "failed-" + TestContext.CurrentContext.Test.MethodName + "-" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
                await ScreenshotAsync(name);
                TestContext.Out.WriteLine("--- browser console ---\n" + string.Join('\n', _console));
                foreach (var silo in _silos) TestContext.Out.WriteLine(silo.Transcript());
            }
        }
        finally
        {
            if (_context is not null) await _context.CloseAsync();
            foreach (var silo in _silos) await silo.DisposeAsync();
            _silos.Clear();
        }
    }
}
