using System.Text.Json.Nodes;
using Cluster.Testing;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>The live job table: rows follow their jobs without a reload; filters and cursor pages.</summary>
public sealed class JobTableTests : DashboardTest
{
    [Test]
    public async Task A_submitted_job_goes_pending_assigned_running_completed_in_its_row_without_a_reload()
    {
        await StartSiloAsync();
        var page = await OpenDashboardAsync();
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        var jobId = await SubmitAsync("simulation", new { duration_ms = 1000 });
        var row = JobRow(jobId);
        var status = row.GetByTestId("job-status");
        await Expect(status).ToHaveTextAsync("pending");

        await using var worker = await WorkerAsync("box-a-gpu0", "box-a");
        var assignment = await worker.NextAssignmentAsync();
        Assert.That(RawWorker.Text(assignment["job"]!["id"]), Is.EqualTo(jobId));
        await Expect(status).ToHaveTextAsync("assigned");
        await Expect(row).ToContainTextAsync("box-a-gpu0");

        await ProgressAsync(worker, assignment, 40, "denoising");
        await Expect(status).ToHaveTextAsync("running");
        await Expect(row).ToContainTextAsync("40%");
        // The machine card follows the same events: its worker is busy with this job.
        var workerRow = MachineCard("box-a").Locator("[data-testid=worker-row][data-worker-id='box-a-gpu0']");
        await Expect(workerRow).ToHaveAttributeAsync("data-status", "busy");
        await Expect(workerRow.GetByTestId("worker-job")).ToHaveAttributeAsync("data-job-id", jobId);
        await Expect(workerRow).ToContainTextAsync("40%");
        await ScreenshotAsync("job-running");

        await CompleteAsync(worker, assignment, new JsonObject { ["image_url"] = "https://example.com/out.png" });
        await Expect(status).ToHaveTextAsync("completed");
        await Expect(workerRow).ToHaveAttributeAsync("data-status", "idle");

        // The detail panel shows the result and the whole history.
        await row.ClickAsync();
        await Expect(page.GetByTestId("detail-status")).ToHaveTextAsync("completed");
        await Expect(page.GetByTestId("job-detail")).ToContainTextAsync("https://example.com/out.png");
        var history = page.GetByTestId("detail-history").Locator("li");
        await Expect(history.First).ToContainTextAsync("completed");
        await Expect(history.Last).ToContainTextAsync("submitted");
        await Expect(history.Filter(new() { HasText = "progress" })).ToContainTextAsync("40% denoising");
        Assert.That(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), Is.True, "the page was reloaded");
        await ScreenshotAsync("job-completed");
    }

    [Test]
    public async Task Pages_go_back_in_time_and_filters_show_only_matching_jobs()
    {
        await StartSiloAsync();
        var ids = new List<string>();
        for (var i = 0; i < 30; i++) ids.Add(await SubmitAsync(i % 3 == 0 ? "upscale" : "simulation"));
        var cancelled = new[] { ids[2], ids[7], ids[11], ids[25] };
        foreach (var id in cancelled) await PostAsync($"/api/jobs/{id}/cancel");
        var newestFirst = Enumerable.Reverse(ids).ToArray();

        var page = await OpenDashboardAsync();
        await page.GetByTestId("job-page-size").SelectOptionAsync("10");
        await Expect(JobRows).ToHaveCountAsync(10);
        await Expect(JobRows.First).ToHaveAttributeAsync("data-job-id", newestFirst[0]);
        Assert.That(await VisibleJobIdsAsync(), Is.EqualTo(newestFirst[..10]));

        await page.GetByTestId("jobs-next").ClickAsync();
        await Expect(page.GetByTestId("jobs-page")).ToHaveTextAsync("Page 2");
        await Expect(JobRows.First).ToHaveAttributeAsync("data-job-id", newestFirst[10]);
        Assert.That(await VisibleJobIdsAsync(), Is.EqualTo(newestFirst[10..20]));

        await page.GetByTestId("jobs-prev").ClickAsync();
        await Expect(page.GetByTestId("jobs-page")).ToHaveTextAsync("Page 1");
        await Expect(JobRows.First).ToHaveAttributeAsync("data-job-id", newestFirst[0]);
        await Expect(page.GetByTestId("jobs-prev")).ToBeDisabledAsync();

        // 25 a page: the second page holds the five oldest, and nothing is older.
        await page.GetByTestId("job-page-size").SelectOptionAsync("25");
        await Expect(JobRows).ToHaveCountAsync(25);
        await page.GetByTestId("jobs-next").ClickAsync();
        await Expect(JobRows).ToHaveCountAsync(5);
        Assert.That(await VisibleJobIdsAsync(), Is.EqualTo(newestFirst[25..]));
        await Expect(page.GetByTestId("jobs-next")).ToBeDisabledAsync();
        await ScreenshotAsync("jobs-last-page");

        await page.GetByTestId("job-status-filter").SelectOptionAsync("cancelled");
        await Expect(page.GetByTestId("jobs-page")).ToHaveTextAsync("Page 1");
        await Expect(JobRows).ToHaveCountAsync(cancelled.Length);
        Assert.That(await VisibleJobIdsAsync(), Is.EquivalentTo(cancelled));
        await Expect(page.GetByTestId("job-status").Filter(new() { HasNotText = "cancelled" })).ToHaveCountAsync(0);

        await page.GetByTestId("job-status-filter").SelectOptionAsync("");
        await page.GetByTestId("job-type-filter").SelectOptionAsync("upscale");
        await Expect(JobRows).ToHaveCountAsync(10);
        Assert.That(await VisibleJobIdsAsync(), Is.EqualTo(newestFirst.Where((_, i) => (29 - i) % 3 == 0).ToArray()));

        // Live: a new job of another type stays out; a new upscale job appears at the top.
        var other = await SubmitAsync("simulation");
        var matching = await SubmitAsync("upscale");
        await Expect(JobRows.First).ToHaveAttributeAsync("data-job-id", matching);
        await Expect(JobRow(other)).ToHaveCountAsync(0);
        await Expect(JobRows).ToHaveCountAsync(11);
        await ScreenshotAsync("jobs-filtered-upscale");
    }
}
