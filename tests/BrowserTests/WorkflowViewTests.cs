using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

public sealed class WorkflowViewTests : DashboardTest
{
    [Test]
    public async Task A_workflow_shows_its_steps_as_a_dag_whose_states_follow_the_run_live()
    {
        await StartSiloAsync();
        var requirements = new { capabilities = new[] { "diamond" } };
        using var created = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/workflows/create", Key, JsonContent.Create(new
        {
            name = "diamond",
            steps = new object[]
            {
                new { type = "simulation", requirements },
                new { type = "simulation", requirements, depends_on = 0 },
                new { type = "simulation", requirements, depends_on = 0 },
                new { type = "simulation", requirements, depends_on = new[] { 1, 2 } },
            },
        })));
        var workflowId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("workflow_id").GetString()!;
        var page = await OpenDashboardAsync();
        var card = page.Locator($"[data-testid=workflow-card][data-workflow-id='{workflowId}']");
        ILocator Step(int index) => card.Locator($"[data-testid=workflow-step][data-step-index='{index}']");

        // One column per depth: A, then B and C side by side, then D.
        await Expect(card.Locator(".dag-column")).ToHaveCountAsync(3);
        await Expect(card.Locator(".dag-column").Nth(1).GetByTestId("workflow-step")).ToHaveCountAsync(2);
        await Expect(Step(3)).ToHaveAttributeAsync("data-status", "waiting");

        await using var worker = await WorkerAsync("diamond-gpu0", "diamond-box", capabilities: ["diamond"]);
        await CompleteAsync(worker, await worker.NextAssignmentAsync());
        await Expect(Step(0)).ToHaveAttributeAsync("data-status", "completed");
        await Expect(Step(3)).ToHaveAttributeAsync("data-status", "waiting");
        for (var i = 0; i < 3; i++) await CompleteAsync(worker, await worker.NextAssignmentAsync());

        await Expect(card.GetByTestId("workflow-status")).ToHaveTextAsync("completed");
        await Expect(card.Locator("[data-testid=workflow-step][data-status=completed]")).ToHaveCountAsync(4);
        await Step(3).ClickAsync();
        await Expect(page.GetByTestId("detail-status")).ToHaveTextAsync("completed");
        await ScreenshotAsync("workflow-completed");
    }
}
