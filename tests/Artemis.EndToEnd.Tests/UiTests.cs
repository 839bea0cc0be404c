using Aspire.Hosting.Testing;
using Artemis.ServiceDefaults;
using Microsoft.Playwright;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// Debian's Chromium, driven by Playwright, against the whole running app: the pages as a person sees them once
/// Blazor is interactive. Screenshots go to <c>artifacts/screenshots/</c> at the repository root.
/// </summary>
[Collection(WholeApp.Name)]
public sealed class UiTests(RunningApp running) : IClassFixture<RunningApp>, IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        // A missing browser is a broken machine, not a reason to skip: scripts/setup.sh installs it.
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (./scripts/setup.sh does)");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // As root Chromium needs --no-sandbox; the rest keep it off the (closed) network.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    [Fact]
    public async Task Health_page_goes_live_and_the_costs_page_is_one_click_away()
    {
        var page = await NewPageAsync();

        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("[data-testid=health-status]")).ToHaveTextAsync("Healthy");
        await Assertions.Expect(page.Locator("[data-testid=config-status]")).ToHaveAttributeAsync("data-valid", "true");
        await Assertions.Expect(page.Locator("[data-testid=offline-demo-banner]")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "health");

        await page.GetByRole(AriaRole.Link, new() { Name = "Costs" }).ClickAsync();
        await page.WaitForURLAsync("**/costs");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Costs");
        await Assertions.Expect(page.Locator("[data-testid=costs-budgets] .budget")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("[data-testid=costs-error]")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "costs");
    }

    [Fact]
    public async Task An_unknown_page_shows_the_not_found_page_not_a_blank_one()
    {
        var page = await NewPageAsync();

        var response = await page.GotoAsync("/no-such-page");

        Assert.Equal(404, response!.Status);
        await Assertions.Expect(page.Locator("body")).Not.ToBeEmptyAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Health", Exact = true })).ToBeVisibleAsync();
    }

    private async Task<IPage> NewPageAsync()
    {
        var web = running.App.App.GetEndpoint(ResourceNames.Web, "http");
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = web.ToString().TrimEnd('/') });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        return page;
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(RepositoryRoot(), "artifacts", "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, $"{name}.png"), FullPage = true });
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Artemis.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Artemis.sln not found above " + AppContext.BaseDirectory);
    }
}
