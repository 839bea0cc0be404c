using System.Net.Http.Json;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.Agents.Tests.Supervision;

/// <summary>Like <see cref="SupervisorFixture"/>, but its own replica takes no cards: the test's replicas do.</summary>
public sealed class RecoveryFixture : SupervisorFixture
{
    protected override bool MainReplicaSupervises => false;
}

/// <summary>The Agents service killed with SIGKILL in the middle of a card: a new replica resumes it where it was.</summary>
public sealed class RecoveryTests(RecoveryFixture fixture) : IClassFixture<RecoveryFixture>
{
    [Fact]
    public async Task A_card_whose_replica_is_killed_while_agents_work_is_resumed_by_the_next_with_each_step_and_cost_once()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var doomed = fixture.StartProcessReplica();
        var card = await fixture.CreateSampleCardAsync("Fix add() in the calculator sample (killed half way)");

        // Kill it as soon as a developer agent has made a model call and before the attempts end.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, "the killed replica never started developing the card");
            Assert.False(doomed.HasExited, "the replica process exited by itself");
            var details = (await fixture.Client.GetFromJsonAsync<CardDetails>($"api/cards/{card.Id}"))!;
            if (details.Card.Stage == CardStage.Developing && details.Attempts.Any(attempt => attempt.Turns >= 1))
            {
                Assert.Contains(details.Attempts, attempt => attempt.Status == "Running");
                break;
            }

            await Task.Delay(20);
        }

        doomed.Kill(entireProcessTree: true);
        await doomed.WaitForExitAsync(timeout.Token);

        await using var heir = await fixture.StartReplicaAsync(timeout.Token, new Dictionary<string, string?> { ["Artemis:Agents:Supervise"] = "true" });
        var finished = await fixture.WaitFinishedAsync(card.Id);

        Assert.Equal((CardStage.Done, 1), (finished.Card.Stage, finished.Card.WinnerAttempt));
        Assert.Equal(["Queued→Planning", "Planning→Developing", "Developing→Arbitrating", "Arbitrating→Done"], await fixture.StageMovesAsync(card.Id));
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM cost_entries WHERE card_id = $1 AND stage = 'planning'", card.Id));
        Assert.Equal(2, await fixture.ScalarAsync("SELECT lease_generation FROM cards WHERE id = $1", card.Id));
        Assert.True(finished.Attempts.Sum(attempt => attempt.Retries) >= 1, "a running attempt was restarted and counted as a retry");
        Assert.True(await fixture.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = 'supervisor.intervention' AND payload->>'action' = 'restart'", card.Id) >= 1);

        // No cost counted twice: the card's Redis budget holds exactly what the ledger holds.
        await heir.Services.GetRequiredService<CostLedger>().DrainAsync(timeout.Token);
        var window = heir.Services.GetRequiredService<BudgetWindows>().For(card.Id)[^1];
        var state = await heir.Services.GetRequiredService<BudgetGuard>().StateAsync(window);
        await using var command = fixture.Database.CreateCommand("SELECT coalesce(sum(cost_usd), 0) FROM cost_entries WHERE card_id = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = card.Id });
        var ledger = (decimal)(await command.ExecuteScalarAsync(timeout.Token))!;
        Assert.Equal(ledger, state.SpentUsd, 6);
        Assert.True(ledger > 0);
        await heir.StopAsync(timeout.Token);
    }

    [Fact]
    public async Task A_card_queued_through_one_replica_is_claimed_at_once_by_another_that_polls_only_every_minute()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var worker = await fixture.StartReplicaAsync(timeout.Token, new Dictionary<string, string?>
        {
            ["Artemis:Agents:Supervise"] = "true",
            ["Artemis:Agents:PollMilliseconds"] = "60000",
        });
        // Past its first look for cards (made at start): from now on only the announcement can wake it before a minute.
        await Task.Delay(TimeSpan.FromSeconds(2), timeout.Token);

        var card = await fixture.CreateSampleCardAsync("Fix add() in the calculator sample (announced)");
        // The claim is the card's first stage change, whose reason names the replica that claimed it.
        var deadline = DateTime.UtcNow.AddSeconds(40);
        string? claim;
        while ((claim = await ClaimReasonAsync(card.Id, timeout.Token)) is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the card was not claimed within 40 s: the supervisor waited for its poll");
            await Task.Delay(50, timeout.Token);
        }

        Assert.Equal($"claimed by {worker.Services.GetRequiredService<Artemis.Agents.Supervision.Supervisor>().Owner}", claim);
        Assert.Equal(CardStage.Done, (await fixture.WaitFinishedAsync(card.Id)).Card.Stage);
        await worker.StopAsync(timeout.Token);
    }

    private async Task<string?> ClaimReasonAsync(string cardId, CancellationToken cancellationToken)
    {
        await using var command = fixture.Database.CreateCommand(
            "SELECT payload->>'reason' FROM events WHERE card_id = $1 AND kind = 'card.stage' AND payload->>'from' = 'Queued'");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = cardId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
