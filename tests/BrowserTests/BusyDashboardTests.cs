using System.Text.Json.Nodes;
using Cluster.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>
/// A cluster with work in every state, as an operator would see it. Besides its assertions this test
/// takes the README's picture: set <c>CLUSTER_UPDATE_DOCS_SCREENSHOT=1</c> to write docs/images/dashboard.png.
/// </summary>
public sealed class BusyDashboardTests : DashboardTest
{
    private static readonly (string Machine, int Gpus)[] Machines = [("gpu-node-01", 4), ("gpu-node-02", 4), ("gpu-node-03", 2), ("gpu-node-04", 2)];

    [Test]
    public async Task A_busy_cluster_shows_its_totals_machines_and_jobs_at_a_glance()
    {
        await StartSiloAsync();
        var workers = new List<RawWorker>();
        try
        {
            // A backlog of low-priority jobs first, then the work the workers take (first in, first out),
            // so that the newest page shows jobs in every state.
            string[] types = ["text-to-image", "upscale", "simulation", "text-generation"];
            for (var i = 0; i < 14; i++) await SubmitAsync("simulation", new { duration_ms = 60000, priority = 10 });
            var jobs = new List<string>();
            for (var i = 0; i < 26; i++)
            {
                var type = types[i % types.Length];
                object body = type switch
                {
                    "text-to-image" => new { prompt = $"a lighthouse at dusk, study {i}", priority = 50 },
                    "text-generation" => new { prompt = "Summarise the incident log", max_tokens = 256, priority = 50 },
                    "upscale" => new { image_url = $"https://example.com/frames/{i}.png", scale_factor = 2, priority = 50 },
                    _ => new { duration_ms = 30000, priority = 50 },
                };
                jobs.Add(await SubmitAsync(type, body));
            }

            // The machines come up and take the waiting work, the highest priorities first.
            foreach (var (machine, gpus) in Machines)
                for (var gpu = 0; gpu < gpus; gpu++)
                    workers.Add(await WorkerAsync($"{machine}-gpu{gpu}", machine, gpu, gpus));

            // Round one: six finish, two fail for good; each then gets the next job pushed.
            var first = await Task.WhenAll(workers.Select(w => w.NextAssignmentAsync()));
            for (var i = 0; i < 6; i++) await CompleteAsync(workers[i], first[i]);
            await FailAsync(workers[6], first[6], "OUT_OF_MEMORY", "CUDA out of memory (24 GiB)", retryable: false);
            await FailAsync(workers[7], first[7], "MODEL_NOT_FOUND", "sdxl-turbo is not installed", retryable: false);
            var current = new JsonObject[workers.Count];
            for (var i = 0; i < workers.Count; i++) current[i] = i < 8 ? await workers[i].NextAssignmentAsync() : first[i];
            // All but the last worker report progress (it stays "assigned"); two jobs still waiting are cancelled.
            for (var i = 0; i < workers.Count - 1; i++) await ProgressAsync(workers[i], current[i], 12 + (i * 17 % 80), "sampling");
            var taken = first.Concat(current).Select(a => RawWorker.Text(a["job"]!["id"])).ToHashSet();
            foreach (var waiting in jobs.Where(j => !taken.Contains(j)).Take(2)) await PostAsync($"/api/jobs/{waiting}/cancel");

            var page = await OpenDashboardAsync(width: 1600, height: 1100, colorScheme: ColorScheme.Dark);
            await Expect(page.GetByTestId("total-workers")).ToHaveTextAsync(workers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Expect(page.GetByTestId("total-running")).ToHaveTextAsync(workers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Expect(page.GetByTestId("total-machines")).ToHaveTextAsync("4");
            await Expect(page.GetByTestId("totals")).ToContainTextAsync("dead total 2");
            await Expect(page.GetByTestId("machine-card")).ToHaveCountAsync(Machines.Length);
            await Expect(page.Locator("[data-testid=worker-row][data-status=busy]")).ToHaveCountAsync(workers.Count);
            // The silo lists itself from its membership heartbeat, with the workers connected to it.
            await Expect(page.Locator("[data-testid=section-silos] li")).ToHaveCountAsync(1);
            // Heartbeat and page refresh run every 5 s each, so this may take two rounds.
            await Expect(page.Locator("[data-testid=section-silos] li")).ToContainTextAsync($"{workers.Count} workers", new() { Timeout = 20_000 });

            // Progress moves on live, and one worker drops off its machine.
            for (var i = 0; i < workers.Count - 1; i++) await ProgressAsync(workers[i], current[i], 20 + (i * 17 % 80), "sampling");
            await Expect(page.Locator("[data-worker-id='gpu-node-01-gpu0']")).ToContainTextAsync("20%");
            var dropped = workers[^1];
            workers.Remove(dropped);
            await dropped.DisposeAsync();
            await Expect(MachineCard("gpu-node-04").GetByTestId("machine-status")).ToHaveTextAsync("degraded");

            // A worker's current job opens in the detail panel.
            await page.Locator("[data-worker-id='gpu-node-01-gpu2'] [data-testid=worker-job]").ClickAsync();
            await Expect(page.GetByTestId("detail-job-id")).ToHaveTextAsync(RawWorker.Text(current[2]["job"]!["id"]));
            await Expect(page.GetByTestId("detail-status")).ToHaveTextAsync("running");
            var path = await ScreenshotAsync("dashboard-busy");
            await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = ColorScheme.Light });
            await ScreenshotAsync("dashboard-busy-light");
            if (Environment.GetEnvironmentVariable("CLUSTER_UPDATE_DOCS_SCREENSHOT") == "1")
                File.Copy(path, Path.Combine(ScreenshotDirectory, "..", "..", "..", "docs", "images", "dashboard.png"), overwrite: true);
        }
        finally
        {
            foreach (var worker in workers) await worker.DisposeAsync();
        }
    }
}
