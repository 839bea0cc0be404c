using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Artemis.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// The Cards, Card and Live pages in Debian's Chromium against the whole app in its offline demo. The demo's script
/// solves calculator cards; a card whose description says "(hold in planning)" keeps its planner waiting, so tests
/// that cancel and watch have a card that stays unfinished. Each test finds its own cards by a title no other test
/// uses, so they hold on a board that other tests (or the demo's sample card) filled.
/// </summary>
[Collection(WholeApp.Name)]
public sealed class CardsUiTests(RunningApp running) : IClassFixture<RunningApp>, IAsyncLifetime
{
    /// <summary>In a card's description, keeps the offline demo's planner thinking (the script's first step).</summary>
    private const string Hold = "(hold in planning)";

    private readonly List<string> _workspaces = [];
    private readonly List<string> _held = [];
    private Chromium _chromium = null!;

    public async Task InitializeAsync() => _chromium = await Chromium.LaunchAsync();

    public async Task DisposeAsync()
    {
        await _chromium.DisposeAsync();
        // Cards held in planning would keep a supervisor slot for minutes: let them go.
        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        foreach (var id in _held)
        {
            (await api.PostAsync($"/api/cards/{id}/cancel", content: null)).Dispose();
        }

        foreach (var workspace in _workspaces)
        {
            Directory.Delete(workspace, recursive: true);
        }
    }

    [Fact]
    public async Task A_card_created_through_the_form_is_claimed_by_the_supervisor_and_shown_on_the_board_with_its_events()
    {
        var title = UniqueTitle("Form card");
        var workspace = NewWorkspace();
        var page = await NewPageAsync();

        await page.GotoAsync("/cards");
        await Assertions.Expect(page.Locator("[data-testid=board]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=create-form]")).ToHaveAttributeAsync("data-interactive", "true");
        await page.Locator("#card-title input").FillAsync(title);
        await page.Locator("#card-workspace input").FillAsync(workspace);
        await page.Locator("#card-test-command input").FillAsync("python3 -m pytest -q");
        await page.Locator("#card-budget input").FillAsync("0.5");
        await page.Locator("#card-description textarea").FillAsync("Make the failing greeting test pass. " + Hold);
        await ScreenshotAsync(page, "cards-form-filled");
        await page.Locator("[data-testid=create-submit]").ClickAsync();

        // Created: the form takes us to the card's page.
        await ExpectUrlAsync(page, "/cards/[a-z0-9]{12}$");
        var id = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        _held.Add(id);
        await Assertions.Expect(page.Locator("[data-testid=card-title]")).ToHaveTextAsync(title);
        // The supervisor claims it at once and starts planning: the page hears the stage change live.
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Planning");
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='card.stage']")).ToContainTextAsync("Queued → Planning");
        await Assertions.Expect(page.Locator("[data-testid=card-test-command]")).ToHaveTextAsync("python3 -m pytest -q");
        await Assertions.Expect(page.Locator("[data-testid=card-budget]")).ToHaveTextAsync("$0.50");
        await Assertions.Expect(page.Locator("[data-testid=card-facts]")).ToContainTextAsync(workspace);
        var created = page.Locator("[data-testid=timeline] li[data-kind='card.created']");
        await Assertions.Expect(created).ToHaveCountAsync(1);
        await Assertions.Expect(created).ToContainTextAsync(title);
        await Assertions.Expect(page.Locator("[data-testid=card-cancel]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "true");
        await ScreenshotAsync(page, "card-planning");

        // On the board, in the Planning column, and a click away from its page.
        await page.GetByRole(AriaRole.Link, new() { Name = "Cards", Exact = true }).ClickAsync();
        await ExpectUrlAsync(page, "/cards$");
        var tile = page.Locator($"[data-testid=column-Planning] a.tile[data-card-id='{id}']");
        await Assertions.Expect(tile).ToContainTextAsync(title);
        await Assertions.Expect(page.Locator($"[data-testid=board] a.tile[data-card-id='{id}']")).ToHaveCountAsync(1);
        await ScreenshotAsync(page, "cards-board");

        await tile.ClickAsync();
        await ExpectUrlAsync(page, $"/cards/{id}$");
        await Assertions.Expect(page.Locator("[data-testid=card-title]")).ToHaveTextAsync(title);
    }

    [Fact]
    public async Task Bad_input_shows_each_problem_next_to_its_field_and_creates_nothing()
    {
        var title = UniqueTitle("Refused card");
        var missing = Path.Combine(Path.GetTempPath(), "artemis-ui-missing-" + Guid.NewGuid().ToString("N"));
        var page = await NewPageAsync();

        await page.GotoAsync("/cards");
        await Assertions.Expect(page.Locator("[data-testid=board]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=create-form]")).ToHaveAttributeAsync("data-interactive", "true");
        await page.Locator("#card-title input").FillAsync(title);
        await page.Locator("#card-workspace input").FillAsync(missing);
        await page.Locator("#card-budget input").FillAsync("-1");

        // The empty test command is caught before anything is sent.
        await page.Locator("[data-testid=create-submit]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=field-testCommand]")).ToContainTextAsync("The test command is required.");
        await Assertions.Expect(page.Locator("[data-testid=field-workspace]")).Not.ToContainTextAsync("does not exist");

        // With a test command the service checks the rest, and the form shows its words next to each field.
        await page.Locator("#card-test-command input").FillAsync("make test");
        await page.Locator("[data-testid=create-submit]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=field-workspace]")).ToContainTextAsync($"'{missing}' does not exist on the server");
        await Assertions.Expect(page.Locator("[data-testid=field-budgetUsd]")).ToContainTextAsync("must be > 0, was -1");
        await Assertions.Expect(page.Locator("[data-testid=field-testCommand]")).Not.ToContainTextAsync("required");
        await Assertions.Expect(page.Locator("[data-testid=field-title]")).Not.ToContainTextAsync("required");
        await ScreenshotAsync(page, "cards-form-errors");
        Assert.EndsWith("/cards", page.Url, StringComparison.Ordinal);

        // Correcting a field clears the service's complaint about it.
        await page.Locator("#card-budget input").FillAsync("");
        await Assertions.Expect(page.Locator("[data-testid=field-budgetUsd]")).Not.ToContainTextAsync("must be > 0");
        await Assertions.Expect(page.Locator("[data-testid=field-workspace]")).ToContainTextAsync("does not exist on the server");

        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        var cards = await api.GetFromJsonAsync<JsonArray>("/api/cards?limit=1000");
        Assert.DoesNotContain(cards!, card => card!["title"]!.GetValue<string>() == title);
    }

    [Fact]
    public async Task A_card_cancelled_elsewhere_turns_Cancelled_on_its_open_page_through_its_event_stream()
    {
        var title = UniqueTitle("Cancelled elsewhere");
        var id = await CreateCardAsync(title);
        var page = await NewPageAsync();

        await page.GotoAsync($"/cards/{id}");
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Planning");
        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "true");

        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        using (var cancel = await api.PostAsync($"/api/cards/{id}/cancel", content: null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        // No reload: the page learns it from the card.cancelled event.
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Cancelled");
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='card.cancelled']")).ToContainTextAsync("Planning → Cancelled");
        await Assertions.Expect(page.Locator("[data-testid=card-cancel]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=card-result]")).ToContainTextAsync("cancelled through the API");
    }

    [Fact]
    public async Task The_cancel_button_cancels_a_card_being_planned_and_its_page_shows_the_event()
    {
        var title = UniqueTitle("Cancelled here");
        var id = await CreateCardAsync(title);
        var page = await NewPageAsync();

        await page.GotoAsync($"/cards/{id}");
        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "true");
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Planning");
        await page.Locator("[data-testid=card-cancel]").ClickAsync();

        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Cancelled");
        await Assertions.Expect(page.Locator("[data-testid=card-cancel]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='card.cancelled']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=timeline] li")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("[data-testid=cancel-error]")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "card-cancelled");

        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        var card = await api.GetFromJsonAsync<JsonObject>($"/api/cards/{id}");
        Assert.Equal("Cancelled", card!["card"]!["stage"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_card_page_rides_out_a_stop_of_the_Agents_service_and_picks_up_its_stream_where_it_left_off()
    {
        var title = UniqueTitle("Reconnecting");
        var id = await CreateCardAsync(title);
        var page = await NewPageAsync();
        await page.GotoAsync($"/cards/{id}");
        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "true");
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Planning");

        var app = running.App.App;
        var agents = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(resource => resource.Name == ResourceNames.Agents);
        using var timeout = new CancellationTokenSource(ArtemisApp.StartTimeout);
        var stopped = await app.ResourceCommands.ExecuteCommandAsync(agents, KnownResourceCommands.StopCommand, timeout.Token);
        Assert.True(stopped.Success, stopped.Message);

        // The page says so instead of going blank, and keeps what it had.
        await Assertions.Expect(page.Locator("[data-testid=stream-problem]")).ToContainTextAsync("reconnecting", new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "false");
        await Assertions.Expect(page.Locator("[data-testid=card-title]")).ToHaveTextAsync(title);
        await ScreenshotAsync(page, "card-reconnecting");

        var started = await app.ResourceCommands.ExecuteCommandAsync(agents, KnownResourceCommands.StartCommand, timeout.Token);
        Assert.True(started.Success, started.Message);
        await app.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Agents, timeout.Token);

        await Assertions.Expect(page.Locator("[data-testid=card-live]")).ToHaveAttributeAsync("data-connected", "true", new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("[data-testid=stream-problem]")).ToHaveCountAsync(0);
        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        using (var cancel = await api.PostAsync($"/api/cards/{id}/cancel", content: null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        // The event after the gap arrives on the reopened stream; the one before it is not shown twice.
        // The restarted service took the card up again where it was (Planning): no stage change is repeated.
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Cancelled");
        await Assertions.Expect(page.Locator("[data-testid=timeline] li")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='card.created']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='card.stage']")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task The_live_page_shows_events_across_cards_as_they_happen_and_filters_them_by_kind()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/live");
        await Assertions.Expect(page.Locator("[data-testid=live-status]")).ToHaveAttributeAsync("data-watching", "true");
        await Assertions.Expect(page.Locator("[data-testid=live-status]")).ToHaveAttributeAsync("data-connected", "true");

        var firstTitle = UniqueTitle("Live one");
        var first = await CreateCardAsync(firstTitle);
        var second = await CreateCardAsync(UniqueTitle("Live two"));
        var events = page.Locator("[data-testid=live-events] li");
        await Assertions.Expect(events.And(page.Locator($"[data-card='{first}'][data-kind='card.created']"))).ToHaveCountAsync(1);
        await Assertions.Expect(events.And(page.Locator($"[data-card='{first}'][data-kind='card.created']"))).ToContainTextAsync(firstTitle);
        await Assertions.Expect(events.And(page.Locator($"[data-card='{second}'][data-kind='card.created']"))).ToHaveCountAsync(1);

        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        (await api.PostAsync($"/api/cards/{first}/cancel", content: null)).Dispose();
        var cancelled = events.And(page.Locator($"[data-card='{first}'][data-kind='card.cancelled']"));
        await Assertions.Expect(cancelled).ToHaveCountAsync(1);
        await Assertions.Expect(cancelled).ToContainTextAsync(new System.Text.RegularExpressions.Regex("(Queued|Planning) → Cancelled"));

        // Newest first: the cancellation is above both creations.
        var order = await events.EvaluateAllAsync<string[]>("rows => rows.map(row => row.dataset.eventId)");
        var ids = order.Select(long.Parse).ToList();
        Assert.Equal(ids.OrderDescending(), ids);
        await ScreenshotAsync(page, "live");

        await page.Locator("#live-kind").ClickAsync();
        await page.Locator("fluent-option", new() { HasText = "card.cancelled" }).ClickAsync();
        await Assertions.Expect(events.And(page.Locator($"[data-card='{second}']"))).ToHaveCountAsync(0);
        await Assertions.Expect(cancelled).ToHaveCountAsync(1);
        var kinds = await events.EvaluateAllAsync<string[]>("rows => rows.map(row => row.dataset.kind)");
        Assert.All(kinds, kind => Assert.Equal("card.cancelled", kind));
        await ScreenshotAsync(page, "live-cancelled-only");

        // Still live under the filter: a new cancellation appears, a new creation does not.
        var third = await CreateCardAsync(UniqueTitle("Live three"));
        (await api.PostAsync($"/api/cards/{second}/cancel", content: null)).Dispose();
        await Assertions.Expect(events.And(page.Locator($"[data-card='{second}'][data-kind='card.cancelled']"))).ToHaveCountAsync(1);
        await Assertions.Expect(events.And(page.Locator($"[data-card='{third}']"))).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_calculator_card_created_in_the_form_reaches_Done_live_with_the_right_attempt_the_reason_and_its_diff()
    {
        // The demo's sample card names the sample project on the server: a new card on the same source.
        var sample = await SampleCardAsync();
        var title = UniqueTitle("Calculator");
        var page = await NewPageAsync();
        await page.GotoAsync("/cards");
        await Assertions.Expect(page.Locator("[data-testid=create-form]")).ToHaveAttributeAsync("data-interactive", "true");
        await page.Locator("#card-title input").FillAsync(title);
        await page.Locator("#card-workspace input").FillAsync(sample["workspace"]!.GetValue<string>());
        await page.Locator("#card-test-command input").FillAsync(sample["testCommand"]!.GetValue<string>());
        await page.Locator("#card-description textarea").FillAsync(sample["description"]!.GetValue<string>());
        await page.Locator("[data-testid=create-submit]").ClickAsync();
        await ExpectUrlAsync(page, "/cards/[a-z0-9]{12}$");
        var id = page.Url[(page.Url.LastIndexOf('/') + 1)..];

        // Watched live, without a reload: planned, developed by two agents, arbitrated, done.
        await Assertions.Expect(page.Locator("[data-testid=card-stage]")).ToHaveAttributeAsync("data-stage", "Done", new() { Timeout = 90_000 });
        var moves = page.Locator("[data-testid=timeline] li[data-kind='card.stage']");
        await Assertions.Expect(moves).ToHaveCountAsync(4);
        await Assertions.Expect(moves.First).ToContainTextAsync("Arbitrating → Done"); // newest first
        // Each attempt's run, and the winner's second one.
        await Assertions.Expect(page.Locator("[data-testid=timeline] li[data-kind='test.result']")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("[data-testid=card-cancel]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=card-plan]")).ToContainTextAsync("Fix add()");
        await Assertions.Expect(page.Locator("[data-testid=card-result]")).ToContainTextAsync("attempt 1 (developer-1) passed the acceptance tests twice");

        var winner = page.Locator("[data-testid=attempt-1]");
        await Assertions.Expect(winner).ToHaveAttributeAsync("data-winner", "true");
        await Assertions.Expect(winner.Locator("[data-testid=winner-why]")).ToContainTextAsync("tests passing");
        await Assertions.Expect(winner.Locator("[data-testid=attempt-tests]")).ToHaveTextAsync("passed");
        await Assertions.Expect(winner.Locator(".diff-add")).ToHaveTextAsync("+    return a + b");
        await Assertions.Expect(winner.Locator(".diff-del")).ToHaveTextAsync("-    return a - b");
        await Assertions.Expect(winner.Locator(".diff-add")).ToHaveCSSAsync("background-color", "rgb(223, 246, 221)");

        // The other developer deleted the failing tests to pass them: the arbiter ran the original ones.
        var loser = page.Locator("[data-testid=attempt-2]");
        await Assertions.Expect(loser).ToHaveAttributeAsync("data-winner", "false");
        await Assertions.Expect(loser.Locator("[data-testid=attempt-tests]")).ToHaveTextAsync("failed (2 failing)");
        await loser.Locator("[data-testid=attempt-test-output] summary").ClickAsync();
        await Assertions.Expect(loser.Locator("[data-testid=attempt-test-output] pre")).ToContainTextAsync("FAILED (failures=2)");
        await ScreenshotAsync(page, "card-done");

        await page.GotoAsync("/cards");
        await Assertions.Expect(page.Locator($"[data-testid=column-Done] a.tile[data-card-id='{id}']")).ToBeVisibleAsync();
    }

    [Theory]
    [InlineData("zzzzzzzzzzzz")]
    [InlineData("no-such-card")]
    public async Task An_unknown_card_shows_a_not_found_message(string id)
    {
        var page = await NewPageAsync();

        await page.GotoAsync($"/cards/{id}");

        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Card not found");
        await Assertions.Expect(page.Locator("[data-testid=card-not-found]")).ToContainTextAsync($"There is no card {id}");
        await Assertions.Expect(page.Locator("[data-testid=card-error]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Back to the cards" })).ToBeVisibleAsync();
        if (id.StartsWith('z'))
        {
            await ScreenshotAsync(page, "card-not-found");
        }
    }

    private async Task<string> CreateCardAsync(string title)
    {
        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        using var response = await api.PostAsJsonAsync("/api/cards", new { title, description = Hold, workspace = NewWorkspace(), testCommand = "make test" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var card = await response.Content.ReadFromJsonAsync<JsonObject>();
        _held.Add(card!["id"]!.GetValue<string>());
        return card["id"]!.GetValue<string>();
    }

    /// <summary>The offline demo's sample card, which the first start of the app created.</summary>
    private async Task<JsonObject> SampleCardAsync()
    {
        using var api = running.App.CreateClient(ResourceNames.Agents, running.App.ApiKey);
        for (var tries = 0; ; tries++)
        {
            var cards = await api.GetFromJsonAsync<JsonArray>("/api/cards?limit=1000");
            var sample = cards!.Select(card => card!.AsObject()).LastOrDefault(card => card["title"]!.GetValue<string>() == "Fix add() in the calculator sample");
            if (sample is not null)
            {
                return sample;
            }

            Assert.True(tries < 150, "the offline demo created no sample card");
            await Task.Delay(200);
        }
    }

    // A real folder with a file: the Agents service runs on this machine and checks the workspace exists.
    private string NewWorkspace()
    {
        var workspace = Path.Combine(Path.GetTempPath(), "artemis-ui-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workspace);
        File.WriteAllText(Path.Combine(workspace, "test_greeting.py"), "def test_greeting():\n    assert 'hello' == 'hello'\n");
        _workspaces.Add(workspace);
        return workspace;
    }

    private static string UniqueTitle(string what) => $"{what} {Guid.NewGuid().ToString("N")[..8]}";

    private Task<IPage> NewPageAsync() => _chromium.NewPageAsync(running.App, new ViewportSize { Width = 1600, Height = 1000 });

    private static Task ScreenshotAsync(IPage page, string name) => Chromium.ScreenshotAsync(page, name);

    private static Task ExpectUrlAsync(IPage page, string pattern) => Chromium.ExpectUrlAsync(page, pattern);
}
