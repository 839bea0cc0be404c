using Microsoft.Playwright;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// Debian's Chromium, driven by Playwright, against the whole running app: the pages as a person sees them once
/// Blazor is interactive. Screenshots go to <c>artifacts/screenshots/</c> at the repository root.
/// </summary>
[Collection(WholeApp.Name)]
public sealed class UiTests(RunningApp running) : IClassFixture<RunningApp>, IAsyncLifetime
{
    private Chromium _chromium = null!;

    public async Task InitializeAsync() => _chromium = await Chromium.LaunchAsync();

    public async Task DisposeAsync() => await _chromium.DisposeAsync();

    [Fact]
    public async Task Health_page_goes_live_and_the_costs_page_is_one_click_away()
    {
        var page = await NewPageAsync();

        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("[data-testid=health-status]")).ToHaveTextAsync("Healthy");
        await Assertions.Expect(page.Locator("[data-testid=config-status]")).ToHaveAttributeAsync("data-valid", "true");
        await Assertions.Expect(page.Locator("[data-testid=offline-demo-banner]")).ToBeVisibleAsync();
        // The supervisor's report, refreshed live: the demo's sample card is done by developer-1 within seconds.
        await Assertions.Expect(page.Locator("[data-testid=supervisor-stages] tr[data-stage]")).ToHaveCountAsync(7);
        await Assertions.Expect(page.Locator("[data-testid=supervisor-success]")).ToContainTextAsync("100%", new() { Timeout = 90_000 });
        await Assertions.Expect(page.Locator("[data-testid=supervisor-agents] tr[data-agent=developer-1]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=supervisor-error]")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "health");

        await page.GetByRole(AriaRole.Link, new() { Name = "Costs" }).ClickAsync();
        await ExpectUrlAsync(page, "/costs$");
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

    private Task<IPage> NewPageAsync() => _chromium.NewPageAsync(running.App);

    private static Task ScreenshotAsync(IPage page, string name) => Chromium.ScreenshotAsync(page, name);

    private static Task ExpectUrlAsync(IPage page, string pattern) => Chromium.ExpectUrlAsync(page, pattern);
}
