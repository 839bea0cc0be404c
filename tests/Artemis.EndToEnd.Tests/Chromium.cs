using Aspire.Hosting.Testing;
using Artemis.ServiceDefaults;
using Microsoft.Playwright;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright (its own browser download is never used), opening pages of the running
/// app's web; screenshots go to <c>artifacts/screenshots/</c> at the repository root.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    /// <summary>Launches Debian's Chromium; <paramref name="extraArgs"/> add to the usual switches (e.g. <see cref="FakeMicrophone"/>).</summary>
    public static async Task<Chromium> LaunchAsync(params string[] extraArgs)
    {
        // A missing browser is a broken machine, not a reason to skip: scripts/setup.sh installs it.
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: install Debian's chromium package (./scripts/setup.sh does)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // As root Chromium needs --no-sandbox; the rest keep it off the (closed) network.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", .. extraArgs],
        });
        return new Chromium(playwright, browser);
    }

    /// <summary>
    /// Switches for a microphone that plays <paramref name="wav"/> (looped) with no permission prompt, and audio
    /// that may start without a gesture.
    /// </summary>
    public static string[] FakeMicrophone(string wav) =>
    [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        $"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ];

    /// <summary>A page in a context of its own whose relative URLs go to the app's web; <paramref name="permissions"/> are granted to it.</summary>
    public async Task<IPage> NewPageAsync(ArtemisApp app, ViewportSize? viewport = null, IEnumerable<string>? permissions = null)
    {
        var web = app.App.GetEndpoint(ResourceNames.Web, "http");
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = web.ToString().TrimEnd('/'),
            ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 720 },
            Permissions = permissions,
        });
        var page = await context.NewPageAsync();
        // Actions and assertions have separate defaults: 30 s for both. Expect's own default (5 s) is too short for a
        // page on a machine that runs every test assembly at once.
        page.SetDefaultTimeout(30_000);
        Assertions.SetDefaultExpectTimeout(30_000);
        return page;
    }

    /// <summary>
    /// Waits for the page's address to match: Blazor moves between pages in the browser (history API), with no page
    /// load to wait for, so this polls the address rather than waiting for a navigation's load event.
    /// </summary>
    public static Task ExpectUrlAsync(IPage page, string pattern) =>
        Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(pattern), new() { Timeout = 30_000 });

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(RepositoryRoot(), "artifacts", "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, $"{name}.png"), FullPage = true });
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
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
