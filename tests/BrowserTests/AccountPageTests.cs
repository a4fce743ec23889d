using System.Net.Http.Json;
using System.Text.Json;
using Cluster.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cluster.BrowserTests;

/// <summary>Seed 004 in the dashboard: sign up with an invitation, the account page's usage and keys, sign in by email; for admins, tenants and accounts.</summary>
public sealed class AccountPageTests : DashboardTest
{
    private const string Password = "correct horse battery";

    private async Task<string> InvitationAsync()
    {
        using var response = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Post, "/api/auth/invitations", Key));
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("invitation").GetString()!;
    }

    [Test]
    public async Task A_user_signs_up_makes_a_key_sees_its_usage_revokes_the_key_and_signs_in_again_by_email()
    {
        await StartSiloAsync();
        var email = $"page-{Guid.NewGuid():N}@example.test";
        var context = await Chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Silo.BaseAddress.ToString() });
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync("/");
            await page.GetByTestId("tab-signup").ClickAsync();
            await page.GetByTestId("signup-email").FillAsync(email);
            await page.GetByTestId("signup-password").FillAsync(Password);
            await page.GetByTestId("signup-submit").ClickAsync();
            await Expect(page.GetByTestId("signup-error")).ToContainTextAsync("invitation", new() { IgnoreCase = true });

            await page.GetByTestId("signup-invitation").FillAsync(await InvitationAsync());
            await page.GetByTestId("signup-submit").ClickAsync();
            await Expect(page.GetByTestId("account-view")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("nav")).ToBeHiddenAsync();
            await Expect(page.Locator("#dashboard-view")).ToBeHiddenAsync();
            await Expect(page.GetByTestId("usage-jobs-today")).ToHaveTextAsync("0");

            await page.GetByTestId("key-name").FillAsync("my laptop");
            await page.GetByTestId("key-create").ClickAsync();
            var key = await page.GetByTestId("new-key").TextContentAsync();
            await Expect(page.GetByTestId("key-row")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("key-row")).ToContainTextAsync("my laptop");

            // The key works for the API and its jobs are the user's: the page counts them.
            await Silo.SubmitAsync(key!, new { type = "simulation", requirements = new { capabilities = new[] { "nobody-has-it" } } });
            await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
            await Expect(page.GetByTestId("usage-jobs-today")).ToHaveTextAsync("1");
            await Expect(page.GetByTestId("usage-pending")).ToHaveTextAsync("1");

            await page.GetByTestId("key-revoke").ClickAsync();
            await Expect(page.GetByTestId("key-row")).ToHaveCountAsync(0);
            using (var revoked = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/whoami", key)))
                Assert.That((int)revoked.StatusCode, Is.EqualTo(401), "the revoked key no longer works");

            await page.GetByTestId("logout").ClickAsync();
            await Expect(page.GetByTestId("login-form")).ToBeVisibleAsync();
            await page.GetByTestId("tab-password").ClickAsync();
            await page.GetByTestId("login-email").FillAsync(email);
            await page.GetByTestId("login-password").FillAsync("not the password");
            await page.GetByTestId("password-submit").ClickAsync();
            await Expect(page.GetByTestId("password-error")).ToBeVisibleAsync();
            await page.GetByTestId("login-password").FillAsync(Password);
            await page.GetByTestId("password-submit").ClickAsync();
            await Expect(page.GetByTestId("account-view")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("usage-jobs-today")).ToHaveTextAsync("1");
        }
        finally
        {
            await context.CloseAsync();
        }
    }

    [Test]
    public async Task An_admin_sees_every_tenants_usage_and_disables_an_account_from_the_account_page()
    {
        await StartSiloAsync();
        var email = $"tenant-{Guid.NewGuid():N}@example.test";
        using (var registered = await Silo.Http.PostAsJsonAsync("/api/auth/register", new { email, password = Password, invitation = await InvitationAsync() }))
            Assert.That((int)registered.StatusCode, Is.EqualTo(201));
        using var login = await Silo.Http.PostAsJsonAsync("/api/auth/login", new { email, password = Password });
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var keyRequest = new HttpRequestMessage(HttpMethod.Post, "/api/keys") { Content = JsonContent.Create(new { name = "k", scopes = new[] { "submit" } }) };
        keyRequest.Headers.Authorization = new("Bearer", token);
        using var keyResponse = await Silo.Http.SendAsync(keyRequest);
        var tenantKey = (await keyResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        for (var i = 0; i < 2; i++) await Silo.SubmitAsync(tenantKey, new { type = "simulation", requirements = new { capabilities = new[] { "nobody-has-it" } } });

        var page = await OpenDashboardAsync();
        await page.GetByTestId("nav-account").ClickAsync();
        var tenant = page.GetByTestId("tenant-row").Filter(new() { HasText = email });
        await Expect(tenant).ToContainTextAsync("2");
        await Expect(page.GetByTestId("usage")).ToContainTextAsync("no user");
        var user = page.GetByTestId("user-row").Filter(new() { HasText = email });
        await Expect(user.GetByTestId("user-status")).ToHaveTextAsync("active");

        await user.GetByTestId("user-toggle").ClickAsync();

        await Expect(user.GetByTestId("user-status")).ToHaveTextAsync("disabled");
        await Expect(page.GetByTestId("key-row")).ToHaveCountAsync(1, new() { Timeout = 10_000 });
        await Expect(page.GetByTestId("key-scope-monitor")).ToBeVisibleAsync();
        using var afterDisable = await Silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/whoami", tenantKey));
        Assert.That((int)afterDisable.StatusCode, Is.EqualTo(401), "disabling deleted the account's keys");
        await page.GetByTestId("invite").ClickAsync();
        await Expect(page.GetByTestId("invitation")).Not.ToBeEmptyAsync();
        await ScreenshotAsync("account-admin");
        await page.GetByTestId("nav-monitor").ClickAsync();
        await Expect(page.Locator("#dashboard-view")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("connection-status")).ToHaveTextAsync("Connected");
    }
}
