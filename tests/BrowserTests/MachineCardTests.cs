using Cluster.Testing;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>Machine cards (seed 002): workers per machine, pages of machines, and selective monitoring.</summary>
public sealed class MachineCardTests : DashboardTest
{
    [Test]
    public async Task Cards_show_each_machines_workers_in_pages_and_monitoring_a_selection_limits_cards_and_events()
    {
        await StartSiloAsync();
        var workers = new List<RawWorker>();
        try
        {
            workers.Add(await WorkerAsync("box-1-gpu0", "box-1", gpuIndex: 0, gpuCount: 2));
            workers.Add(await WorkerAsync("box-1-gpu1", "box-1", gpuIndex: 1, gpuCount: 2));
            for (var i = 2; i <= 7; i++) workers.Add(await WorkerAsync($"box-{i}-gpu0", $"box-{i}", capabilities: $"on-box-{i}"));

            var page = await OpenDashboardAsync();
            var cards = page.GetByTestId("machine-card");
            await page.Locator("#machines-toolbar select").SelectOptionAsync("6");
            await Expect(cards).ToHaveCountAsync(6);
            await Expect(MachineCard("box-1").GetByTestId("worker-row")).ToHaveCountAsync(2);
            await Expect(MachineCard("box-1")).ToContainTextAsync("GPU1");
            await Expect(MachineCard("box-1").GetByTestId("machine-status")).ToHaveTextAsync("ready");
            await page.GetByTestId("machines-next").ClickAsync();
            await Expect(cards).ToHaveCountAsync(1);
            await Expect(MachineCard("box-7")).ToBeVisibleAsync();
            await page.GetByTestId("machines-prev").ClickAsync();
            await Expect(cards).ToHaveCountAsync(6);

            // Pick two machines with their checkboxes, then monitor only those.
            await MachineCard("box-2").GetByTestId("machine-select").CheckAsync();
            await MachineCard("box-3").GetByTestId("machine-select").CheckAsync();
            await Expect(page.GetByTestId("machine-filter")).ToHaveValueAsync("box-2, box-3");
            await page.GetByTestId("machine-filter-apply").ClickAsync();
            await Expect(cards).ToHaveCountAsync(2);
            await Expect(MachineCard("box-1")).ToHaveCountAsync(0);

            // Events of unmonitored machines stay out; those of monitored ones arrive live.
            workers.Add(await WorkerAsync("box-1-gpu2", "box-1", gpuIndex: 2));
            workers.Add(await WorkerAsync("box-3-gpu1", "box-3", gpuIndex: 1, capabilities: "on-box-3"));
            await Expect(MachineCard("box-3").GetByTestId("worker-row")).ToHaveCountAsync(2);
            await Expect(MachineCard("box-3").Locator("[data-worker-id='box-3-gpu1']")).ToContainTextAsync("GPU1");
            var jobId = await SubmitAsync("simulation", new { requirements = new { capabilities = new[] { "on-box-2" } } });
            var assignment = await workers[2].NextAssignmentAsync();
            await ProgressAsync(workers[2], assignment, 55);
            var busy = MachineCard("box-2").GetByTestId("worker-row");
            await Expect(busy).ToHaveAttributeAsync("data-status", "busy");
            await Expect(busy.GetByTestId("worker-job")).ToHaveAttributeAsync("data-job-id", jobId);
            await Expect(busy).ToContainTextAsync("55%");
            await Expect(MachineCard("box-2").GetByTestId("machine-status")).ToHaveTextAsync("busy");
            await Expect(cards).ToHaveCountAsync(2);
            await ScreenshotAsync("machines-selected");

            // A worker that goes away shows offline, and its machine offline.
            var leaving = workers[3];
            workers.Remove(leaving);
            await leaving.DisposeAsync();
            await Expect(MachineCard("box-3").Locator("[data-worker-id='box-3-gpu0']")).ToHaveAttributeAsync("data-status", "offline");
            await Expect(MachineCard("box-3").GetByTestId("machine-status")).ToHaveTextAsync("degraded");

            await page.GetByTestId("machine-filter-clear").ClickAsync();
            await Expect(cards).ToHaveCountAsync(6);
            await Expect(MachineCard("box-1").GetByTestId("worker-row")).ToHaveCountAsync(3);
        }
        finally
        {
            foreach (var worker in workers) await worker.DisposeAsync();
        }
    }

    [Test]
    public async Task Opening_the_dashboard_or_monitoring_a_selection_loads_each_list_once_for_all_its_subscriptions()
    {
        await StartSiloAsync();
        await using var worker = await WorkerAsync("box-1-gpu0", "box-1");
        var loads = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        int subscribes = 0, subscribed = 0;
        var page = await OpenDashboardAsync(beforeNavigation: p =>
        {
            p.Request += (_, request) =>
            {
                var url = new Uri(request.Url);
                // The page lists; /api/jobs?machine=… is the machines view filling in progress, not a page load.
                if (url.AbsolutePath is "/api/machines" or "/api/jobs" or "/api/workflows" && !url.Query.Contains("machine=", StringComparison.Ordinal))
                    loads.AddOrUpdate(url.AbsolutePath, 1, (_, n) => n + 1);
            };
            p.WebSocket += (_, socket) =>
            {
                socket.FrameSent += (_, frame) => { if (frame.Text?.Contains("\"type\":\"subscribe\"", StringComparison.Ordinal) == true) Interlocked.Increment(ref subscribes); };
                socket.FrameReceived += (_, frame) => { if (frame.Text?.Contains("\"type\":\"subscribed\"", StringComparison.Ordinal) == true) Interlocked.Increment(ref subscribed); };
            };
            return Task.CompletedTask;
        });

        // Each view loads once as it starts and again when its subscriptions say it may have missed events:
        // the resyncs of all of a view's subscriptions (three for the machines) share that second load.
        async Task<IReadOnlyDictionary<string, int>> LoadsOnceSubscribedAsync(int expectedSubscribes)
        {
            await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref subscribes) >= expectedSubscribes && Volatile.Read(ref subscribed) == Volatile.Read(ref subscribes)),
                "every subscription is confirmed");
            await page.EvaluateAsync("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
            return new Dictionary<string, int>(loads);
        }

        // Four at start: the machines view's workers, jobs and machines, and the workflows view's workflows; the
        // jobs view shares the machines view's unfiltered jobs subscription.
        var opened = await LoadsOnceSubscribedAsync(expectedSubscribes: 4);
        Assert.That(opened.Keys, Is.EquivalentTo(new[] { "/api/machines", "/api/jobs", "/api/workflows" }));
        Assert.That(opened.Values, Has.All.InRange(1, 2), string.Join(", ", opened));

        var before = opened["/api/machines"];
        var subscribesBefore = Volatile.Read(ref subscribes);
        await page.GetByTestId("machine-filter").FillAsync("box-1");
        await page.GetByTestId("machine-filter-apply").ClickAsync();
        var monitored = await LoadsOnceSubscribedAsync(expectedSubscribes: subscribesBefore + 3);
        Assert.That(monitored["/api/machines"] - before, Is.InRange(1, 2), "loads of the machines page after Monitor");
        await Expect(MachineCard("box-1")).ToBeVisibleAsync();
    }
}
