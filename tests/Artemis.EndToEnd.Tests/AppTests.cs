using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Artemis.AppHost.Model;
using Artemis.ServiceDefaults;

namespace Artemis.EndToEnd.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeApp
{
    /// <summary>One whole app at a time: each brings up Redis, PostgreSQL, two services and DCP.</summary>
    public const string Name = "whole app";
}

public sealed class RunningApp : IAsyncLifetime
{
    private ArtemisApp? _app;

    public ArtemisApp App => _app ?? throw new InvalidOperationException("the app did not start: see the class fixture's error");

    public async Task InitializeAsync()
    {
        _app = await ArtemisApp.StartAsync();
        await _app.WaitAllHealthyAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}

[Collection(WholeApp.Name)]
public sealed class AppTests(RunningApp running) : IClassFixture<RunningApp>
{
    private ArtemisApp App => running.App;

    [Fact]
    public void Every_resource_is_running_and_healthy()
    {
        foreach (var resource in ArtemisApp.AllResources)
        {
            Assert.True(App.App.ResourceNotifications.TryGetCurrentState(resource, out var state), $"{resource} has no state");
            Assert.Equal("Running", state.Snapshot.State?.Text);
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, state.Snapshot.HealthStatus);
        }
    }

    [Fact]
    public async Task Agents_health_endpoints_answer_without_a_key()
    {
        using var client = App.CreateClient(ResourceNames.Agents);
        Assert.Equal("Healthy", await client.GetStringAsync("/health"));
        Assert.Equal("Healthy", await client.GetStringAsync("/alive"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-of-enough-length")]
    [InlineData("")]
    public async Task Api_refuses_requests_without_the_right_key_with_problem_details(string? key)
    {
        using var client = App.CreateClient(ResourceNames.Agents, key);

        using var response = await client.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(401, problem!["status"]!.GetValue<int>());
        Assert.Contains(ResourceNames.ApiKeyHeader, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_health_reports_postgres_redis_and_the_schema_with_the_key()
    {
        using var client = App.CreateClient(ResourceNames.Agents, App.ApiKey);

        var health = await client.GetFromJsonAsync<JsonObject>("/api/health");

        Assert.Equal("Healthy", health!["status"]!.GetValue<string>());
        var checks = health["checks"]!.AsArray().Select(check => check!["name"]!.GetValue<string>()).ToList();
        Assert.Contains(checks, name => name.Contains("postgres", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(checks, name => name.Contains("redis", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("migrations", checks);
    }

    [Fact]
    public async Task Agents_configuration_report_is_valid_against_the_offline_model()
    {
        using var client = App.CreateClient(ResourceNames.Agents, App.ApiKey);

        var report = await client.GetFromJsonAsync<JsonObject>("/api/config/report");

        Assert.True(report!["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Empty(report["errors"]!.AsArray());
    }

    [Fact]
    public async Task Offline_demo_model_is_the_simulator_and_requires_its_key()
    {
        var connectionString = await App.App.GetConnectionStringAsync(ResourceNames.Model);
        Assert.Contains($"Key={ModelBuilderExtensions.OfflineDemoKey}", connectionString, StringComparison.Ordinal);
        Assert.Contains($"Model={ModelBuilderExtensions.OfflineDemoModel}", connectionString, StringComparison.Ordinal);

        using var client = App.CreateClient(ResourceNames.Model + ModelBuilderExtensions.SimulatorSuffix);
        using var anonymous = await client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Costs_api_answers_with_the_ledger_summary()
    {
        using var client = App.CreateClient(ResourceNames.Agents, App.ApiKey);

        var costs = await client.GetFromJsonAsync<JsonObject>("/api/costs");

        foreach (var field in new[] { "calls", "totalUsd", "byModel", "byCard", "byStage", "byAgent", "byDay", "budgets", "alerts" })
        {
            Assert.True(costs!.ContainsKey(field), $"/api/costs has no '{field}': {costs.ToJsonString()}");
        }

        var budgets = costs!["budgets"]!.AsArray();
        Assert.Equal(2, budgets.Count);
        Assert.All(budgets, budget => Assert.Equal(["window", "limitUsd", "spentUsd", "reservedUsd"], budget!.AsObject().Select(p => p.Key)));
    }

    [Fact]
    public async Task The_offline_demo_brings_its_sample_card_to_Done_with_the_correct_attempt_and_prices_every_model_request()
    {
        using var client = App.CreateClient(ResourceNames.Agents, App.ApiKey);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        JsonObject? sample = null;
        while (sample?["stage"]?.GetValue<string>() is not ("Done" or "Failed" or "Cancelled"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the sample card did not finish: {sample?.ToJsonString() ?? "no sample card"}");
            await Task.Delay(250);
            var cards = await client.GetFromJsonAsync<JsonArray>("/api/cards?limit=1000");
            sample = cards!.Select(card => card!.AsObject()).FirstOrDefault(card => card["title"]!.GetValue<string>() == "Fix add() in the calculator sample");
        }

        Assert.Equal("Done", sample["stage"]!.GetValue<string>());
        Assert.Equal(1, sample["winnerAttempt"]!.GetValue<int>());
        var id = sample["id"]!.GetValue<string>();
        var details = await client.GetFromJsonAsync<JsonObject>($"/api/cards/{id}");
        var attempts = details!["attempts"]!.AsArray();
        Assert.Equal([true, false], attempts.Select(attempt => attempt!["testsPassed"]!.GetValue<bool>()));
        Assert.True(attempts[1]!["editsTests"]!.GetValue<bool>());

        // Every request the simulator received for the card is one priced call in /api/costs.
        using var simulator = App.CreateClient(ResourceNames.Model + ModelBuilderExtensions.SimulatorSuffix);
        var requests = (await simulator.GetFromJsonAsync<JsonArray>("/_sim/requests"))!
            .Count(request => request!["messages"]!.ToJsonString().Contains($"Card {id}", StringComparison.Ordinal));
        var costs = await client.GetFromJsonAsync<JsonObject>("/api/costs");
        var byCard = costs!["byCard"]!.AsArray().Single(row => row!["key"]!.GetValue<string>() == id)!;
        Assert.Equal(8, requests);
        Assert.Equal(requests, byCard["calls"]!.GetValue<long>());

        var report = await client.GetFromJsonAsync<JsonObject>("/api/supervisor/report");
        Assert.True(report!["cardsByStage"]!["Done"]!.GetValue<long>() >= 1);
    }

    [Fact]
    public async Task Database_schema_is_migrated()
    {
        var connectionString = await App.App.GetConnectionStringAsync(ResourceNames.Database);
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('events', 'cost_entries', 'schemaversions')", connection);
        Assert.Equal(3L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Web_home_page_shows_the_live_health_of_agents_postgres_and_redis()
    {
        using var client = App.CreateClient(ResourceNames.Web);

        var html = await client.GetStringAsync("/");

        Assert.Contains("<h1>Health</h1>", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"health-status\"", html, StringComparison.Ordinal);
        Assert.Contains("data-check=\"migrations\"", html, StringComparison.Ordinal);
        Assert.Contains("PostgreSQL", html, StringComparison.Ordinal);
        Assert.Contains("Redis", html, StringComparison.Ordinal);
        Assert.DoesNotContain("health-error", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"config-status\" data-valid=\"true\"", html, StringComparison.Ordinal);
        Assert.Equal("Healthy", await client.GetStringAsync("/health"));
    }

    [Fact]
    public async Task Web_costs_page_shows_budgets_and_breakdowns_under_the_offline_demo_banner()
    {
        using var client = App.CreateClient(ResourceNames.Web);

        var html = await client.GetStringAsync("/costs");

        Assert.Contains("<h1>Costs</h1>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("costs-error", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"costs-budgets\"", html, StringComparison.Ordinal);
        Assert.Contains("data-window=\"day ", html, StringComparison.Ordinal);
        Assert.Contains("data-window=\"month ", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"costs-by-model\"", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"offline-demo-banner\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Web_answers_an_unknown_page_with_a_not_found_page()
    {
        using var client = App.CreateClient(ResourceNames.Web);

        using var response = await client.GetAsync("/no-such-page");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("There is no page at this address", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Web_cards_page_shows_a_column_per_stage_and_the_create_form()
    {
        using var client = App.CreateClient(ResourceNames.Web);

        var html = await client.GetStringAsync("/cards");

        Assert.Contains("<h1>Cards</h1>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("cards-error", html, StringComparison.Ordinal);
        foreach (var stage in new[] { "Queued", "Planning", "Developing", "Arbitrating", "Done", "Failed", "Cancelled" })
        {
            Assert.Contains($"data-testid=\"column-{stage}\"", html, StringComparison.Ordinal);
        }

        Assert.Contains("data-testid=\"create-form\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/live\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Web_card_page_shows_a_card_and_explains_an_unknown_one()
    {
        using var api = App.CreateClient(ResourceNames.Agents, App.ApiKey);
        var workspace = Directory.CreateTempSubdirectory("artemis-app-").FullName;
        try
        {
            using var created = await api.PostAsJsonAsync("/api/cards", new { title = "Prerendered card", workspace, testCommand = "make test" });
            var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            using var client = App.CreateClient(ResourceNames.Web);

            var html = await client.GetStringAsync($"/cards/{id}");
            Assert.Contains("Prerendered card</h1>", html, StringComparison.Ordinal);
            // Whatever stage the card has reached by now (supervisors claim a new card at once): the one it is in.
            var shown = System.Text.RegularExpressions.Regex.Match(html, "data-stage=\"(\\w+)\" data-testid=\"card-stage\"");
            Assert.True(shown.Success, "the card's stage badge is not in the page");
            Assert.Matches("^(Queued|Planning|Developing|Arbitrating|Done|Failed)$", shown.Groups[1].Value);
            Assert.Contains("data-kind=\"card.created\"", html, StringComparison.Ordinal);
            Assert.DoesNotContain("card-error", html, StringComparison.Ordinal);

            var unknown = await client.GetStringAsync("/cards/zzzzzzzzzzzz");
            Assert.Contains("data-testid=\"card-not-found\"", unknown, StringComparison.Ordinal);
            Assert.Contains("There is no card", unknown, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(workspace, recursive: true);
        }
    }

    [Fact]
    public async Task Web_live_page_offers_every_event_kind_as_a_filter()
    {
        using var client = App.CreateClient(ResourceNames.Web);

        var html = await client.GetStringAsync("/live");

        Assert.Contains("<h1>Live</h1>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("live-error", html, StringComparison.Ordinal);
        foreach (var kind in new[] { "card.created", "card.stage", "card.cancelled", "agent.message", "tool.call", "test.result", "cost", "budget.alert", "supervisor.intervention" })
        {
            Assert.Contains($"value=\"{kind}\"", html, StringComparison.Ordinal);
        }
    }
}
