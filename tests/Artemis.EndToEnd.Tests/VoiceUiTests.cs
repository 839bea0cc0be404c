using System.Diagnostics;
using Microsoft.Playwright;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// The Voice page in Debian's Chromium against the whole app in its offline demo: Chromium's fake microphone plays
/// a WAV spoken by espeak-ng, the page streams it through the web's relay to the Agents service's bridge and on to
/// the model simulator, whose script (tests/Artemis.ModelSimulator/Scripts/offline-demo.json) hears "What is in my workspace?",
/// answers and calls the files plugin's list_dir.
/// </summary>
[Collection(WholeApp.Name)]
public sealed class VoiceUiTests(RunningApp running) : IClassFixture<RunningApp>, IAsyncLifetime
{
    /// <summary>Opening a session crosses the page, the web, the Agents service and the model: give a loaded machine time.</summary>
    private const float PatientMs = 30_000;

    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "artemis-voice-ui-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_scratch);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_scratch, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Speaking_into_the_microphone_shows_both_sides_transcripts_and_the_workspace_listing_the_agent_asked_for()
    {
        // A file only this test made: seen in the listing, it proves the tool ran on the app's workspace, now.
        var workspace = Path.Combine(running.App.StateDirectory, "workspaces");
        var marker = $"voice-ui-{Guid.NewGuid().ToString("N")[..8]}.txt";
        await File.WriteAllTextAsync(Path.Combine(workspace, marker), "listed by voice");
        var wav = await SpeechAsync("What is in my workspace?");
        await using var chromium = await Chromium.LaunchAsync(Chromium.FakeMicrophone(wav));
        var page = await chromium.NewPageAsync(running.App, new ViewportSize { Width = 1600, Height = 1000 }, ["microphone"]);

        try
        {
            await page.GotoAsync("/");
            await page.GetByRole(AriaRole.Link, new() { Name = "Voice", Exact = true }).ClickAsync();
            await Chromium.ExpectUrlAsync(page, "/voice$");
            await Assertions.Expect(page.Locator("[data-testid=voice-controls]")).ToHaveAttributeAsync("data-interactive", "true", new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "idle", new() { Timeout = PatientMs });
            await page.Locator("[data-testid=voice-start]").ClickAsync();

            await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "ready", new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=voice-stop]")).ToBeVisibleAsync(new() { Timeout = PatientMs });
            // The microphone is heard: the meter moves with the spoken WAV (it loops, so it comes round again).
            await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=voice-level]').dataset.level) > 30", null,
                new() { Timeout = 30_000, PollingInterval = 50 });

            // The server's voice detection found the speech in the fake microphone's audio: the user's turn, transcribed.
            var user = page.Locator("[data-testid=transcript] li[data-role=user]").First;
            await Assertions.Expect(user).ToContainTextAsync("What is in my workspace?", new() { Timeout = 60_000 });
            await Assertions.Expect(page.Locator("[data-testid=transcript] li[data-role=assistant]", new() { HasText = "Let me look at your workspace." }).First)
                .ToBeVisibleAsync(new() { Timeout = PatientMs });

            var listing = page.Locator("[data-testid=tool-result][data-tool=list_dir]").First;
            await Assertions.Expect(listing).ToHaveAttributeAsync("data-done", "true", new() { Timeout = PatientMs });
            await Assertions.Expect(listing.Locator("[data-testid=tool-entries]")).ToContainTextAsync(marker, new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=transcript] li[data-role=assistant]", new() { HasText = "Here is what your workspace holds" }).First)
                .ToBeVisibleAsync(new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=session-usd]")).ToContainTextAsync("this session", new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=connection-error]")).ToHaveCountAsync(0);
            await Chromium.ScreenshotAsync(page, "voice-conversation");

            // Stopping is the user's: the session ends without an error, and can start again.
            await page.Locator("[data-testid=voice-stop]").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "ended", new() { Timeout = PatientMs });
            await Assertions.Expect(page.Locator("[data-testid=connection-error]")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator("[data-testid=voice-start]")).ToBeEnabledAsync(new() { Timeout = PatientMs });
        }
        finally
        {
            await Chromium.ScreenshotAsync(page, "voice-final");
            File.Delete(Path.Combine(workspace, marker));
        }
    }

    [Fact]
    public async Task A_session_the_bridge_ends_shows_its_reason_through_the_relay_and_reconnect_opens_a_new_one()
    {
        var wav = await SpeechAsync("Hello");
        await using var chromium = await Chromium.LaunchAsync(Chromium.FakeMicrophone(wav));
        var page = await chromium.NewPageAsync(running.App, permissions: ["microphone"]);
        // Playwright stands between the page and the web's /voice/ws, passing everything through, so that the test
        // can slip a malformed control message to the bridge as if the page had sent it.
        var routes = new List<IWebSocketRoute>();
        await page.RouteWebSocketAsync(new System.Text.RegularExpressions.Regex("/voice/ws$"), route =>
        {
            lock (routes)
            {
                routes.Add(route.ConnectToServer());
            }
        });

        await page.GotoAsync("/voice");
        await Assertions.Expect(page.Locator("[data-testid=voice-controls]")).ToHaveAttributeAsync("data-interactive", "true", new() { Timeout = PatientMs });
        await page.Locator("[data-testid=voice-start]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "ready", new() { Timeout = PatientMs });

        lock (routes)
        {
            Assert.Single(routes).Send("{\"type\":\"dance\"}");
        }

        // The bridge closed with 1007 and its reason; the web relayed both, and the page says so with a way back.
        var problem = page.Locator("[data-testid=connection-error]");
        await Assertions.Expect(problem).ToContainTextAsync("unknown control message type", new() { Timeout = PatientMs });
        await Assertions.Expect(problem).ToHaveAttributeAsync("data-code", "1007", new() { Timeout = PatientMs });
        await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "failed", new() { Timeout = PatientMs });
        await Chromium.ScreenshotAsync(page, "voice-session-ended");

        await page.Locator("[data-testid=voice-reconnect]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "ready", new() { Timeout = PatientMs });
        await Assertions.Expect(problem).ToHaveCountAsync(0);
        lock (routes)
        {
            Assert.Equal(2, routes.Count);
        }
    }

    [Fact]
    public async Task A_denied_microphone_is_said_in_a_message_bar_and_no_session_is_opened()
    {
        // A microphone, but no permission for the page and no prompt to grant it: Chromium refuses, as when a user
        // clicks "Block".
        await using var chromium = await Chromium.LaunchAsync("--use-fake-device-for-media-stream");
        var page = await chromium.NewPageAsync(running.App);
        var sockets = 0;
        page.WebSocket += (_, socket) =>
        {
            if (socket.Url.EndsWith("/voice/ws", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref sockets);
            }
        };

        await page.GotoAsync("/voice");
        await Assertions.Expect(page.Locator("[data-testid=voice-controls]")).ToHaveAttributeAsync("data-interactive", "true", new() { Timeout = PatientMs });
        await page.Locator("[data-testid=voice-start]").ClickAsync();

        var problem = page.Locator("[data-testid=microphone-error]");
        await Assertions.Expect(problem).ToContainTextAsync("The microphone was denied. Allow this site to use the microphone", new() { Timeout = PatientMs });
        await Assertions.Expect(page.Locator("[data-testid=voice-status]")).ToHaveAttributeAsync("data-state", "failed", new() { Timeout = PatientMs });
        await Assertions.Expect(page.Locator("[data-testid=voice-start]")).ToBeEnabledAsync(new() { Timeout = PatientMs });
        await Chromium.ScreenshotAsync(page, "voice-microphone-denied");
        Assert.Equal(0, Volatile.Read(ref sockets));
    }

    [Fact]
    public async Task The_web_refuses_a_voice_socket_opened_by_another_sites_page()
    {
        using var web = running.App.CreateClient(Artemis.ServiceDefaults.ResourceNames.Web);
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "https://evil.example");
        var address = new UriBuilder(web.BaseAddress!) { Scheme = "ws", Path = "/voice/ws" }.Uri;
        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => socket.ConnectAsync(address, CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A WAV of <paramref name="text"/> spoken by espeak-ng, made by sox into what a microphone gives: 48 kHz mono
    /// PCM16 (the page's worklet resamples to 24 kHz when its context cannot run at 24 kHz), 1.5 s of quiet before
    /// (the session is being opened) and 3 s after (the server's voice detection ends the turn).
    /// </summary>
    private async Task<string> SpeechAsync(string text)
    {
        var spoken = Path.Combine(_scratch, "spoken.wav");
        var wav = Path.Combine(_scratch, "microphone.wav");
        await RunAsync("espeak-ng", "-v", "en-us", "-s", "150", "-w", spoken, text);
        await RunAsync("sox", spoken, "-r", "48000", "-c", "1", "-b", "16", wav, "norm", "-3", "pad", "1.5", "3");
        Assert.True(new FileInfo(wav).Length > 48_000 * 2 * 4, $"{wav} is too short to hold the speech");
        return wav;
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        // A missing tool is a broken machine, not a reason to skip: scripts/setup.sh installs espeak-ng and sox.
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
        Assert.True(path is not null, $"{program} is missing: install Debian's {program} package (./scripts/setup.sh does)");
        var start = new ProcessStartInfo(path!) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await errors}");
    }
}
