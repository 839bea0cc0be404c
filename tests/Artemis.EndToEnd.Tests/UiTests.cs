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

    [Fact]
    public async Task A_link_clicked_while_the_circuit_is_starting_opens_its_page()
    {
        // The window CI once hit on a loaded machine, held open: the page has asked the server for its circuit, and
        // the server's answers wait until the link has been clicked and its page fetched.
        var page = await NewPageAsync();
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new HeldAnswers();
        var circuits = 0;
        await page.RouteWebSocketAsync(new System.Text.RegularExpressions.Regex("/_blazor"), route =>
        {
            var server = route.ConnectToServer();
            var first = Interlocked.Increment(ref circuits) == 1;
            var answers = 0;
            // The first answer is the handshake's: after it the page asks for its circuit.
            server.OnMessage(frame =>
            {
                if (first && answers++ > 0)
                {
                    held.Add(frame, route);
                }
                else
                {
                    Send(frame, route);
                }
            });
            route.OnMessage(frame =>
            {
                if ((frame.Binary is { } bytes ? System.Text.Encoding.Latin1.GetString(bytes) : frame.Text ?? "").Contains("StartCircuit", StringComparison.Ordinal))
                {
                    asked.TrySetResult();
                }

                Send(frame, server);
            });
        });

        await page.GotoAsync("/");
        await asked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The page of the link arrives while the circuit still waits (Voice's has nothing to wait for itself).
        await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Link, new() { Name = "Voice", Exact = true }).ClickAsync(),
            response => response.Url.EndsWith("/voice", StringComparison.Ordinal));
        await ExpectUrlAsync(page, "/voice$");
        await page.WaitForTimeoutAsync(200);
        held.Release();

        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Voice");
        await Assertions.Expect(page.Locator("[data-testid=voice-controls]")).ToHaveAttributeAsync("data-interactive", "true");
    }

    private static void Send(IWebSocketFrame frame, IWebSocketRoute to)
    {
        // A binary frame has its text too (decoded): the kind is told by the bytes.
        if (frame.Binary is { } bytes)
        {
            to.Send(bytes);
        }
        else
        {
            to.Send(frame.Text!);
        }
    }

    /// <summary>A connection's frames kept back until released, then passed on in order, and every later one at once.</summary>
    private sealed class HeldAnswers
    {
        private readonly List<IWebSocketFrame> _frames = [];
        private IWebSocketRoute? _to;
        private bool _released;

        public void Add(IWebSocketFrame frame, IWebSocketRoute to)
        {
            lock (_frames)
            {
                if (_released)
                {
                    Send(frame, to);
                    return;
                }

                _to = to;
                _frames.Add(frame);
            }
        }

        public void Release()
        {
            lock (_frames)
            {
                _released = true;
                foreach (var frame in _frames)
                {
                    Send(frame, _to!);
                }
            }
        }
    }

    private Task<IPage> NewPageAsync() => _chromium.NewPageAsync(running.App);

    private static Task ScreenshotAsync(IPage page, string name) => Chromium.ScreenshotAsync(page, name);

    private static Task ExpectUrlAsync(IPage page, string pattern) => Chromium.ExpectUrlAsync(page, pattern);
}
