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
}
