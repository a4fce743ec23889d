using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>Signing in and out, what the page keeps of the key, and the submit form's answers.</summary>
public sealed class SessionTests : DashboardTest
{
    [Test]
    public async Task A_wrong_key_or_one_without_monitor_scope_is_refused_and_logging_out_ends_the_session()
    {
        await StartSiloAsync();
        using var created = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/keys", Key,
            JsonContent.Create(new { name = "submitter", scopes = new[] { "submit" } })));
        var submitOnly = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

        var context = await Chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Silo.BaseAddress.ToString() });
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync("/");
            await page.GetByTestId("api-key").FillAsync("ck_not-a-key");
            await page.GetByTestId("login-submit").ClickAsync();
            await Expect(page.GetByTestId("login-error")).ToHaveTextAsync("That API key is not valid.");

            await page.GetByTestId("api-key").FillAsync(submitOnly);
            await page.GetByTestId("login-submit").ClickAsync();
            await Expect(page.GetByTestId("login-error")).ToContainTextAsync("needs monitor or admin");
            await Expect(page.Locator("#dashboard-view")).ToBeHiddenAsync();

            await page.GetByTestId("api-key").FillAsync(Key);
            await page.GetByTestId("login-submit").ClickAsync();
            await Expect(page.GetByTestId("connection-status")).ToHaveTextAsync("Connected");
            // The key lives in an HttpOnly cookie only: not in storage, not readable by script.
            var stored = await page.EvaluateAsync<string>("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie");
            Assert.That(stored, Does.Not.Contain(Key).And.Not.Contain("cluster_session"));

            await page.GetByTestId("logout").ClickAsync();
            await Expect(page.GetByTestId("login-form")).ToBeVisibleAsync();
            await page.ReloadAsync();
            await Expect(page.GetByTestId("login-form")).ToBeVisibleAsync();
            await Expect(page.Locator("#dashboard-view")).ToBeHiddenAsync();
        }
        finally
        {
            await context.CloseAsync();
        }
    }

    [Test]
    public async Task The_submit_form_shows_the_apis_refusal_and_opens_a_job_it_submitted()
    {
        await StartSiloAsync();
        var page = await OpenDashboardAsync();

        await page.GetByTestId("submit-type").SelectOptionAsync("text-to-image");
        await page.GetByTestId("submit-payload").FillAsync("{\"negative_prompt\": \"blur\"}");
        await page.GetByTestId("submit-job").ClickAsync();
        await Expect(page.GetByTestId("submit-result")).ToContainTextAsync("VALIDATION_ERROR");
        await Expect(page.GetByTestId("submit-result")).ToContainTextAsync("prompt");
        await Expect(JobRows).ToHaveCountAsync(0);

        await page.GetByTestId("submit-payload").FillAsync("{\"prompt\": \"a lighthouse\"}");
        await page.GetByTestId("submit-job").ClickAsync();
        await Expect(page.GetByTestId("submit-result")).ToContainTextAsync("Submitted");
        await Expect(JobRows).ToHaveCountAsync(1);
        var jobId = await JobRows.First.GetAttributeAsync("data-job-id");
        await Expect(page.GetByTestId("detail-job-id")).ToHaveTextAsync(jobId!);
        await Expect(page.GetByTestId("job-detail")).ToContainTextAsync("a lighthouse");

        await page.GetByTestId("detail-cancel").ClickAsync();
        await Expect(page.GetByTestId("detail-status")).ToHaveTextAsync("cancelled");
        await Expect(JobRow(jobId!).GetByTestId("job-status")).ToHaveTextAsync("cancelled");
        await page.GetByTestId("detail-retry").ClickAsync();
        await Expect(page.GetByTestId("detail-status")).ToHaveTextAsync("pending");
    }
}
