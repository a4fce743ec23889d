using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Testing;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>
/// Seed 002's failure: the monitor must survive a burst. Hundreds of jobs run through a machine's
/// workers as fast as they can, with a tiny gateway send queue so that the page is told it lagged;
/// the page must end showing the true final state, holding one page of rows, still connected.
/// </summary>
public sealed class BurstTests : DashboardTest
{
    private const int Jobs = 400;
    private const int Workers = 8;

    [Test]
    public async Task After_a_burst_of_jobs_the_page_shows_the_final_state_with_one_page_of_rows_and_stays_connected()
    {
        await StartSiloAsync(new SiloSettings { Environment = new Dictionary<string, string> { ["Gateway__SendQueueFrames"] = "16" } });
        var workers = new List<RawWorker>();
        try
        {
            for (var i = 0; i < Workers; i++) workers.Add(await WorkerAsync($"burst-box-gpu{i}", "burst-box", i, Workers));
            var page = await OpenDashboardAsync();
            await Expect(MachineCard("burst-box").GetByTestId("worker-row")).ToHaveCountAsync(Workers);

            using var response = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/jobs/batch", Key,
                JsonContent.Create(new { jobs = Enumerable.Range(0, Jobs).Select(i => new { type = "simulation", duration_ms = i }) })));
            Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
            // Each worker runs whatever it is given until every job is done (who gets how many is the silo's choice).
            var completed = 0;
            var allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await Task.WhenAll(workers.Select(async worker =>
            {
                while (true)
                {
                    var next = worker.NextAssignmentAsync(TimeSpan.FromMinutes(2));
                    if (await Task.WhenAny(next, allDone.Task) != next) return;
                    var assignment = await next;
                    await ProgressAsync(worker, assignment, 50);
                    await CompleteAsync(worker, assignment);
                    if (Interlocked.Increment(ref completed) == Jobs) allDone.SetResult();
                }
            }));

            await Expect(page.GetByTestId("totals")).ToContainTextAsync($"total {Jobs}");
            await Expect(page.GetByTestId("total-pending")).ToHaveTextAsync("0");
            await Expect(JobRows).ToHaveCountAsync(25);
            await Expect(page.GetByTestId("job-status").Filter(new() { HasNotText = "completed" })).ToHaveCountAsync(0);
            await Expect(MachineCard("burst-box").Locator("[data-testid=worker-row][data-status=idle]")).ToHaveCountAsync(Workers);
            await Expect(page.GetByTestId("connection-status")).ToHaveTextAsync("Connected");
            // Rows that arrived live pushed older ones onto further pages, which stay reachable.
            await page.GetByTestId("jobs-next").ClickAsync();
            await Expect(page.GetByTestId("jobs-page")).ToHaveTextAsync("Page 2");
            await Expect(JobRows).ToHaveCountAsync(25);
            await page.GetByTestId("jobs-prev").ClickAsync();
            await Expect(page.GetByTestId("jobs-page")).ToHaveTextAsync("Page 1");
            Assert.That(await page.Locator("tbody tr").CountAsync(), Is.EqualTo(25), "the table holds one page, not every job it heard of");
            var lagged = await page.GetByTestId("connection-status").GetAttributeAsync("data-lagged");
            await TestContext.Out.WriteLineAsync($"the page was told it lagged {lagged ?? "0"} times");
            await ScreenshotAsync("after-burst");
        }
        finally
        {
            // A worker may still be waiting for a frame: abort rather than close.
            foreach (var worker in workers)
            {
                worker.Abort();
                await worker.DisposeAsync();
            }
        }
    }
}
