using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Cards;
using Artemis.Agents.Supervision;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Artemis.Agents.Tests.Supervision;

/// <summary>
/// Cards run end to end by the supervisor: planned by the model, attempted by two developer agents at once in their
/// own workspaces (real file tools, real sandbox), arbitrated by the acceptance tests from the pristine source.
/// </summary>
[Collection(SupervisorGroup.Name)]
public sealed class SupervisorTests(SupervisorFixture fixture)
{
    private static readonly string[] Stages = ["Queued→Planning", "Planning→Developing", "Developing→Arbitrating", "Arbitrating→Done"];

    [Fact]
    public async Task The_sample_card_is_done_with_the_correct_attempt_and_the_test_editing_one_flagged_and_beaten()
    {
        var card = await fixture.CreateSampleCardAsync();

        var details = await fixture.WaitFinishedAsync(card.Id);

        Assert.True(details.Card.Stage == CardStage.Done, System.Text.Json.JsonSerializer.Serialize(details));
        Assert.Equal(1, details.Card.WinnerAttempt);
        Assert.Contains("attempt 1 (developer-1) passed the acceptance tests twice", details.Card.ResultReason, StringComparison.Ordinal);
        Assert.Contains("tests passing", details.Card.ResultReason, StringComparison.Ordinal);
        Assert.Contains("Fix add()", details.Card.Plan, StringComparison.Ordinal);
        Assert.Null(details.Card.LeaseOwner);

        var (right, wrong) = (details.Attempts[0], details.Attempts[1]);
        Assert.Equal(("developer-1", "Finished", true, 0, false, 2), (right.Agent, right.Status, right.TestsPassed, right.TestsFailed, right.EditsTests, right.TestRuns));
        Assert.Contains("+    return a + b", right.Diff, StringComparison.Ordinal);
        Assert.Contains("-    return a - b", right.Diff, StringComparison.Ordinal);
        Assert.Equal(3, right.Turns);
        Assert.True(right.CostUsd > 0);

        // The second developer "passed" its own run by deleting the negative-number tests: the arbiter ran the
        // pristine tests, which fail its abs()-based add() twice, and flagged the test edit.
        Assert.Equal(("developer-2", "Finished", false, 2, true, 1), (wrong.Agent, wrong.Status, wrong.TestsPassed, wrong.TestsFailed, wrong.EditsTests, wrong.TestRuns));
        Assert.Contains("test_calc.py", wrong.Diff, StringComparison.Ordinal);
        Assert.Contains("FAILED (failures=2)", wrong.TestOutput, StringComparison.Ordinal);
        Assert.Contains("edited tests", details.Card.ResultReason, StringComparison.Ordinal);

        Assert.Equal(Stages, await fixture.StageMovesAsync(card.Id));
        // Every model request of the card is one ledger row: 1 plan + 3 turns + 4 turns.
        var requests = await fixture.ModelRequestsAsync(card.Id);
        Assert.Equal(8, requests.Count);
        Assert.Equal(8, await fixture.ScalarAsync("SELECT count(*) FROM cost_entries WHERE card_id = $1", card.Id));
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM cost_entries WHERE card_id = $1 AND stage = 'planning' AND agent = 'supervisor'", card.Id));
        // A test.result per stored run: each attempt's first, then the winner's second (only a pass that would win is run again).
        Assert.Equal(3, await fixture.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = 'test.result'", card.Id));
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = 'test.result' AND payload->>'runs' = '2'", card.Id));
        Assert.True(await fixture.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = 'tool.call'", card.Id) >= 5);
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM lessons WHERE card_id = $1 AND outcome = 'Done'", card.Id));
        // The folders go right after the Done move is written (they are what a resumed card would need before it).
        var folder = Path.Combine(fixture.WorkspaceRoot, "cards", card.Id);
        for (var tries = 0; Directory.Exists(folder) && tries < 100; tries++)
        {
            await Task.Delay(50);
        }

        Assert.False(Directory.Exists(folder), "a finished card's folders are removed");
    }

    [Fact]
    public async Task The_report_counts_stages_agents_spend_and_lessons_and_the_next_plan_gets_the_lesson()
    {
        var first = await fixture.CreateSampleCardAsync();
        await fixture.WaitFinishedAsync(first.Id);
        var second = await fixture.CreateSampleCardAsync("Fix add() in the calculator sample, again");
        await fixture.WaitFinishedAsync(second.Id);

        var planning = (await fixture.ModelRequestsAsync(second.Id)).Single(request => request["step"]!.ToString() == "supervisor plans the calculator card");
        Assert.Contains("Lessons from earlier cards", planning["messages"]!.ToJsonString(), StringComparison.Ordinal);

        var report = (await fixture.Client.GetFromJsonAsync<JsonObject>("api/supervisor/report"))!;
        Assert.True((long)report["cardsByStage"]!["Done"]! >= 2);
        Assert.True((double)report["successRate"]! > 0);
        Assert.True((decimal)report["spentUsd"]! > 0);
        Assert.True((long)report["lessons"]! >= 2);
        var stages = report["meanTimePerStage"]!.AsArray().Select(stage => stage!["stage"]!.ToString()).ToList();
        Assert.Equal(["Queued", "Planning", "Developing", "Arbitrating"], stages.Where(stage => stage != "Cancelled"));
        var agents = report["agents"]!.AsArray();
        Assert.Contains(agents, agent => agent!["agent"]!.ToString() == "developer-1" && (long)agent["wins"]! >= 2);
        Assert.Contains(agents, agent => agent!["agent"]!.ToString() == "developer-2" && (long)agent["wins"]! == 0);
    }

    [Fact]
    public async Task A_planning_call_that_fails_is_retried_by_the_supervisor_and_the_card_still_gets_done()
    {
        // The demo's script with one more step first: a planner that answers 500 once for this card (Polly's own
        // retries are off in this fixture, so the failure reaches the supervisor).
        var script = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(SupervisorFixture.DemoScript))!.AsObject();
        script["steps"]!.AsArray().Insert(0, System.Text.Json.Nodes.JsonNode.Parse("""
            { "name": "flaky planner", "match": { "anyContentContains": "You plan cards for Artemis", "lastContentContains": "(flaky planner)" },
              "fault": { "kind": "status", "status": 500, "times": 1 },
              "reply": { "content": "1. Fix add() in calc.py.\n2. Run the tests." } }
            """));
        using (var put = await fixture.Simulator.PutAsync("_sim/script", new StringContent(script.ToJsonString(), System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        try
        {
            using var response = await fixture.Client.PostAsJsonAsync("api/cards", new
            {
                title = "Fix add() in the calculator sample (flaky planner)",
                description = OfflineDemoSample.Description + " (flaky planner)",
                workspace = fixture.NewSampleProject(),
                testCommand = OfflineDemoSample.TestCommand,
            });
            var card = (await response.Content.ReadFromJsonAsync<Card>())!;

            var details = await fixture.WaitFinishedAsync(card.Id);

            Assert.Equal((CardStage.Done, 1), (details.Card.Stage, details.Card.WinnerAttempt));
            var planning = (await fixture.ModelRequestsAsync(card.Id)).Where(request => (string?)request["step"] == "flaky planner").ToList();
            Assert.Equal([500, 200], planning.Select(request => (int?)request["status"]));
            Assert.Equal(1, await fixture.ScalarAsync(
                "SELECT count(*) FROM events WHERE card_id = $1 AND kind = 'supervisor.intervention' AND payload->>'action' = 'retry'", card.Id));
            Assert.Equal(Stages, await fixture.StageMovesAsync(card.Id));
        }
        finally
        {
            using var restore = await fixture.Simulator.PutAsync("_sim/script",
                new StringContent(await File.ReadAllTextAsync(SupervisorFixture.DemoScript), System.Text.Encoding.UTF8, "application/json"));
        }
    }

    [Fact]
    public async Task Two_replicas_on_one_database_never_work_on_the_same_card()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var second = await fixture.StartReplicaAsync(timeout.Token);
        var cards = new List<Card>();
        for (var i = 0; i < 4; i++)
        {
            cards.Add(await fixture.CreateSampleCardAsync($"Fix add() in the calculator sample #{i}"));
        }

        foreach (var card in cards)
        {
            var details = await fixture.WaitFinishedAsync(card.Id, seconds: 180);
            Assert.Equal((CardStage.Done, 1), (details.Card.Stage, details.Card.WinnerAttempt));
            // Each step once: one claim, one move per stage, one plan, one set of attempts, one ledger row per request.
            Assert.Equal(Stages, await fixture.StageMovesAsync(card.Id));
            Assert.Equal(1, await fixture.ScalarAsync("SELECT lease_generation FROM cards WHERE id = $1", card.Id));
            Assert.Equal(8, (await fixture.ModelRequestsAsync(card.Id)).Count);
            Assert.Equal(8, await fixture.ScalarAsync("SELECT count(*) FROM cost_entries WHERE card_id = $1", card.Id));
            Assert.Equal(2, await fixture.ScalarAsync("SELECT count(*) FROM attempts WHERE card_id = $1", card.Id));
        }

        await second.StopAsync(timeout.Token);
    }

    [Fact]
    public async Task Cancelling_a_card_under_work_stops_its_agents_and_leaves_nothing_running()
    {
        var card = await fixture.CreateSampleCardAsync("Fix add() in the calculator sample (to cancel)");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await fixture.Client.GetFromJsonAsync<CardDetails>($"api/cards/{card.Id}"))!.Card.Stage is CardStage.Queued or CardStage.Planning)
        {
            Assert.True(DateTime.UtcNow < deadline, "the card never reached Developing");
            await Task.Delay(50);
        }

        using var cancel = await fixture.Client.PostAsync($"api/cards/{card.Id}/cancel", null);
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());

        deadline = DateTime.UtcNow.AddSeconds(30);
        CardDetails details;
        do
        {
            await Task.Delay(200);
            details = (await fixture.Client.GetFromJsonAsync<CardDetails>($"api/cards/{card.Id}"))!;
            Assert.True(DateTime.UtcNow < deadline, "the cancelled card's work did not stop: " + System.Text.Json.JsonSerializer.Serialize(details));
        }
        while (details.Card.LeaseOwner is not null || details.Attempts.Any(attempt => attempt.Status is "Pending" or "Running"));

        Assert.Equal(CardStage.Cancelled, details.Card.Stage);
        Assert.Null(details.Card.WinnerAttempt);
        Assert.DoesNotContain("Developing→Arbitrating", await fixture.StageMovesAsync(card.Id));
        Assert.False(Directory.Exists(Path.Combine(fixture.WorkspaceRoot, "cards", card.Id)));
    }

    [Fact]
    public async Task A_card_whose_budget_cannot_pay_for_a_call_stops_its_agents_and_fails_without_overspending()
    {
        using var response = await fixture.Client.PostAsJsonAsync("api/cards", new
        {
            title = "Fix add() in the calculator sample on a shoestring",
            description = OfflineDemoSample.Description,
            workspace = fixture.NewSampleProject(),
            testCommand = OfflineDemoSample.TestCommand,
            budgetUsd = 0.0005m,
        });
        var card = (await response.Content.ReadFromJsonAsync<Card>())!;

        var details = await fixture.WaitFinishedAsync(card.Id);

        Assert.Equal(CardStage.Failed, details.Card.Stage);
        Assert.Contains("budget", details.Card.ResultReason, StringComparison.Ordinal);
        var spent = await ScalarDecimalAsync("SELECT coalesce(sum(cost_usd), 0) FROM cost_entries WHERE card_id = $1", card.Id);
        Assert.True(spent <= 0.0005m, $"spent {spent}");
        Assert.DoesNotContain(await fixture.ModelRequestsAsync(card.Id), request => (int?)request["status"] != 200);
    }

    private async Task<decimal> ScalarDecimalAsync(string sql, string parameter)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = parameter });
        return (decimal)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_replica_that_stalled_past_half_its_lease_checks_it_before_its_agents_act_and_stops_if_it_was_taken_over()
    {
        var leases = fixture.App.Services.GetRequiredService<CardLeases>();
        var (id, lease) = await CardHeldByReplicaAAsync("stall");
        try
        {
            // Not confirmed for over half the lease (3 s here): it is renewed, and the agent goes on.
            await Task.Delay(TimeSpan.FromSeconds(1.6));
            await leases.EnsureHeldAsync(lease, CancellationToken.None);
            Assert.True(lease.Clock.SinceConfirmed < TimeSpan.FromSeconds(1.5));
            Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM cards WHERE id = $1 AND lease_expires_at < now() + interval '30 seconds'", id));

            // Another replica took the card over while this one stalled: the agent is stopped before it acts.
            await fixture.ScalarAsync("UPDATE cards SET lease_owner = 'replica-b', lease_generation = 2 WHERE id = $1 RETURNING 0", id);
            await Task.Delay(TimeSpan.FromSeconds(1.6));
            var stopped = await Assert.ThrowsAsync<CardWorkStoppedException>(() => leases.EnsureHeldAsync(lease, CancellationToken.None));
            Assert.Contains("taken over", stopped.Message, StringComparison.Ordinal);
        }
        finally
        {
            await fixture.ScalarAsync("UPDATE cards SET stage = 'Cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 RETURNING 0", id);
        }
    }

    [Fact]
    public async Task A_renewal_tells_a_lease_taken_over_from_a_card_cancelled_under_it_and_from_one_its_holder_just_finished()
    {
        var leases = fixture.App.Services.GetRequiredService<CardLeases>();
        var (id, lease) = await CardHeldByReplicaAAsync("renew");
        try
        {
            Assert.Equal(LeaseState.Held, await leases.RenewAsync(lease, CancellationToken.None));

            // Its holder's last write: Done, and the lease cleared with it. A renewal racing it is not a lost lease.
            await fixture.ScalarAsync("UPDATE cards SET stage = 'Done', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 RETURNING 0", id);
            Assert.Equal(LeaseState.Closed, await leases.RenewAsync(lease, CancellationToken.None));
            await Task.Delay(TimeSpan.FromSeconds(1.6));
            var refused = await Assert.ThrowsAsync<CardWorkStoppedException>(() => leases.EnsureHeldAsync(lease, CancellationToken.None));
            Assert.Contains("finished", refused.Message, StringComparison.Ordinal);

            // Cancelled by a person while held: the lease is still ours, the work must stop.
            await fixture.ScalarAsync("UPDATE cards SET stage = 'Cancelled', lease_owner = 'replica-a', lease_expires_at = now() + interval '1 minute' WHERE id = $1 RETURNING 0", id);
            Assert.Equal(LeaseState.Finished, await leases.RenewAsync(lease, CancellationToken.None));

            // Held by another replica, unfinished: lost.
            await fixture.ScalarAsync("UPDATE cards SET stage = 'Developing', finished_at = NULL, lease_owner = 'replica-b', lease_generation = 2 WHERE id = $1 RETURNING 0", id);
            Assert.Equal(LeaseState.Lost, await leases.RenewAsync(lease, CancellationToken.None));
        }
        finally
        {
            await fixture.ScalarAsync("UPDATE cards SET stage = 'Cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 RETURNING 0", id);
        }
    }

    /// <summary>A developing card held by "replica-a" for a minute (the fixture's supervisor claims only free or lapsed cards).</summary>
    private async Task<(string Id, CardLease Lease)> CardHeldByReplicaAAsync(string prefix)
    {
        var id = prefix + Guid.NewGuid().ToString("N")[..10];
        await fixture.ScalarAsync("""
            INSERT INTO cards (id, title, workspace, workspace_kind, test_command, stage, lease_owner, lease_expires_at, lease_generation)
            VALUES ($1, $1, '/nonexistent', 'folder', 'true', 'Developing', 'replica-a', now() + interval '1 minute', 1)
            RETURNING 0
            """, id);
        return (id, new CardLease(id, "replica-a", 1));
    }
}
