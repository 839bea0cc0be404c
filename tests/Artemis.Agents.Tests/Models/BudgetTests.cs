using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Artemis.Agents.Tests.Models;

/// <summary>Budgets on real Redis: reserved before a call, exact under concurrency, settled once, rebuilt from the ledger.</summary>
public sealed class BudgetTests(ModelPipelineFixture pipeline) : IClassFixture<ModelPipelineFixture>
{
    private BudgetGuard Guard => pipeline.Services.GetRequiredService<BudgetGuard>();

    private BudgetWindows Windows => pipeline.Services.GetRequiredService<BudgetWindows>();

    private static string NewCard() => "card-" + Guid.NewGuid().ToString("N")[..8];

    private static BudgetWindow TestWindow(decimal limitUsd) =>
        new("test", BudgetWindows.KeyPrefix + "test:" + Guid.NewGuid().ToString("N"), limitUsd);

    [Fact]
    public async Task Of_1000_concurrent_calls_exactly_those_the_budget_allows_run_and_nothing_stays_reserved()
    {
        const decimal callUsd = 0.01m;
        var window = TestWindow(limitUsd: 100 * callUsd);
        var ids = Enumerable.Range(0, 1000).Select(i => $"concurrent-{Guid.NewGuid():N}").ToList();

        var attempts = await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                await Guard.ReserveAsync(id, [window], callUsd, TimeSpan.FromMinutes(5));
                return id;
            }
            catch (BudgetExceededException)
            {
                return null;
            }
        }));
        var admitted = attempts.OfType<string>().ToList();

        Assert.Equal(100, admitted.Count);
        Assert.Equal(100 * callUsd, (await Guard.StateAsync(window)).ReservedUsd);

        // Each admitted call settles at most its worst case; the refused ones release (nothing was reserved for them).
        await Task.WhenAll(admitted.Select(id => Guard.SettleAsync(id, [window], callUsd * 0.75m)));
        await Task.WhenAll(ids.Except(admitted).Select(id => Guard.ReleaseAsync(id, [window])));

        var state = await Guard.StateAsync(window);
        Assert.Equal(0m, state.ReservedUsd);
        Assert.Equal(100 * callUsd * 0.75m, state.SpentUsd);
        Assert.True(state.SpentUsd <= window.LimitUsd);
    }

    [Fact]
    public async Task Of_1000_concurrent_model_calls_for_a_card_exactly_the_100_its_budget_allows_reach_the_model()
    {
        // Each call costs exactly its worst case (the script reports the estimated prompt and the full output limit),
        // so settling frees nothing and the card's budget admits exactly 100 of them, whatever the interleaving.
        var card = NewCard();
        var cardWindow = Windows.For(card).Single(window => window.Name == $"card {card}");
        var price = pipeline.Services.GetRequiredService<PriceCatalog>().GetPrice(ModelPipelineFixture.Model);
        var prompt = pipeline.Services.GetRequiredService<TokenEstimator>().CountPromptTokens([new ChatMessage(ChatRole.User, "Hello")], null);
        var maxOutput = (int)decimal.Floor((cardWindow.LimitUsd / 100 * 1_000_000m - prompt * price.InputUsdPer1M) / price.OutputUsdPer1M);
        var worstCase = CallCost.WorstCase(ModelPipelineFixture.Model, price, prompt, maxOutput).Usd;
        Assert.True(100 * worstCase <= cardWindow.LimitUsd && 101 * worstCase > cardWindow.LimitUsd);
        await pipeline.ResetAsync($$"""
            { "steps": [], "fallback": { "content": "Done.", "usage": { "promptTokens": {{prompt}}, "completionTokens": {{maxOutput}} } } }
            """);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async _ =>
        {
            try
            {
                await pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(card, new ChatOptions { MaxOutputTokens = maxOutput }));
                return true;
            }
            catch (BudgetExceededException)
            {
                return false;
            }
        }));

        Assert.Equal(100, outcomes.Count(ran => ran));
        Assert.Equal(100, (await pipeline.SimulatorRequestsAsync()).Count);
        Assert.Equal(100, (await pipeline.LedgerAsync(card)).Count);
        // What the replica's lease holds beyond the calls goes back (it would after a second without calls).
        await pipeline.Services.GetRequiredService<BudgetLeases>().ReturnUnusedAsync(CancellationToken.None);
        var state = await Guard.StateAsync(cardWindow);
        Assert.Equal((100 * worstCase, 0m), (state.SpentUsd, state.ReservedUsd));
        Assert.True(state.SpentUsd <= cardWindow.LimitUsd);
    }

    [Fact]
    public async Task Settling_a_call_twice_counts_it_once()
    {
        var window = TestWindow(1m);
        await Guard.ReserveAsync("twice", [window], 0.1m, TimeSpan.FromMinutes(1));

        Assert.True((await Guard.SettleAsync("twice", [window], 0.05m)).Counted);
        Assert.False((await Guard.SettleAsync("twice", [window], 0.05m)).Counted);

        var state = await Guard.StateAsync(window);
        Assert.Equal((0.05m, 0m), (state.SpentUsd, state.ReservedUsd));
    }

    [Fact]
    public async Task An_expired_reservation_of_a_killed_process_is_swept_back()
    {
        var window = TestWindow(1m);
        await Guard.ReserveAsync($"killed-{Guid.NewGuid():N}", [window], 0.9m, TimeSpan.FromMilliseconds(1));
        await Task.Delay(20);

        // The next reservation sweeps the expired one, so the budget has room again.
        await Guard.ReserveAsync($"next-{Guid.NewGuid():N}", [window], 0.5m, TimeSpan.FromMinutes(1));

        Assert.Equal(0.5m, (await Guard.StateAsync(window)).ReservedUsd);
    }

    [Fact]
    public async Task A_call_that_could_exceed_the_card_budget_is_refused_before_it_is_sent()
    {
        await pipeline.ResetAsync("""{ "steps": [], "fallback": { "content": "Should not be asked." } }""");
        var card = NewCard();
        var cardWindow = Windows.For(card).Single(window => window.Name == $"card {card}");
        await Guard.SettleAsync($"earlier-{card}", [cardWindow], cardWindow.LimitUsd - 0.0001m);

        var refused = await Assert.ThrowsAsync<BudgetExceededException>(() =>
            pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(card)));

        Assert.Contains($"card {card}", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await pipeline.SimulatorRequestsAsync());
        Assert.Equal(0m, (await Guard.StateAsync(cardWindow)).ReservedUsd);
    }

    [Fact]
    public async Task A_priced_call_leaves_its_exact_cost_spent_and_nothing_reserved()
    {
        await pipeline.ResetAsync("""
            { "steps": [ { "match": { "lastRole": "user" }, "reply": { "content": "Hi.", "usage": { "promptTokens": 1000, "completionTokens": 100 } } } ] }
            """);
        var card = NewCard();

        await pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(card));
        await pipeline.Services.GetRequiredService<BudgetLeases>().ReturnUnusedAsync(CancellationToken.None);

        var state = await Guard.StateAsync(Windows.For(card).Single(window => window.Name == $"card {card}"));
        Assert.Equal((1000 * 0.15m + 100 * 0.60m) / 1_000_000m, state.SpentUsd);
        Assert.Equal(0m, state.ReservedUsd);
    }

    [Fact]
    public async Task A_call_in_the_ledger_but_never_settled_is_counted_once_on_restart()
    {
        var card = NewCard();
        var ledger = pipeline.Services.GetRequiredService<CostLedger>();
        var reconciler = pipeline.Services.GetRequiredService<BudgetReconciler>();
        // The process was killed after writing the ledger and before settling the budget.
        await ledger.RecordAsync(LedgerEntry.For($"crashed-{card}", DateTimeOffset.UtcNow, new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.00035m),
            new CostAttribution(card, "development", "developer-1"), estimated: false), CancellationToken.None);
        var cardWindow = Windows.For(card).Single(window => window.Name == $"card {card}");
        Assert.Equal(0m, (await Guard.StateAsync(cardWindow)).SpentUsd);

        Assert.True(await reconciler.ReconcileAsync(CancellationToken.None) >= 1);
        await reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Equal(0.00035m, (await Guard.StateAsync(cardWindow)).SpentUsd);
    }

    [Fact]
    public async Task A_ledger_of_many_calls_is_replayed_into_the_counters_once_per_call()
    {
        string[] cards = [NewCard(), NewCard()];
        var reconciler = pipeline.Services.GetRequiredService<BudgetReconciler>();
        // 1,201 calls in the ledger and never counted (more than two of the replay's batches), one of them counted
        // before the restart.
        var entries = Enumerable.Range(0, 1201).Select(i => LedgerEntry.For($"replay-{cards[i % 2]}-{i}", DateTimeOffset.UtcNow,
            new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.001m), new CostAttribution(cards[i % 2], "development", "developer-1"), estimated: false)).ToList();
        Assert.Equal(1201, await pipeline.Services.GetRequiredService<CostLedger>().RecordAsync(entries, CancellationToken.None));
        Assert.True((await Guard.SettleAsync(entries[0].CallId, Windows.For(cards[0]), 0.001m)).Counted);

        Assert.True(await reconciler.ReconcileAsync(CancellationToken.None) >= 1200);
        await reconciler.ReconcileAsync(CancellationToken.None);

        var spent = await Task.WhenAll(cards.Select(async card => (await Guard.StateAsync(Windows.For(card).Single(window => window.Name == $"card {card}"))).SpentUsd));
        Assert.Equal([601 * 0.001m, 600 * 0.001m], spent);
    }

    [Fact]
    public async Task The_alert_is_raised_exactly_once_per_window()
    {
        var card = NewCard();
        var alerts = pipeline.Services.GetRequiredService<BudgetAlerts>();
        var windows = Windows.For(card).Where(window => window.Name == $"card {card}").ToList();

        var below = await Guard.SettleAsync($"below-{card}", windows, windows[0].LimitUsd * 0.5m);
        var crossing = await Guard.SettleAsync($"crossing-{card}", windows, windows[0].LimitUsd * 0.35m);
        var beyond = await Guard.SettleAsync($"beyond-{card}", windows, windows[0].LimitUsd * 0.1m);
        foreach (var settlement in new[] { below, crossing, beyond })
        {
            await alerts.RaiseAsync(settlement, CancellationToken.None);
        }

        Assert.Empty(below.AlertsCrossed);
        Assert.Equal(windows, crossing.AlertsCrossed);
        Assert.Empty(beyond.AlertsCrossed);
        await using var command = pipeline.Database.CreateCommand("SELECT count(*) FROM events WHERE kind = 'budget.alert' AND card_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = card });
        Assert.Equal(1L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Concurrent_settles_across_the_threshold_raise_one_alert()
    {
        var window = TestWindow(1m);
        var settlements = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Guard.SettleAsync($"spender-{Guid.NewGuid():N}", [window], 0.005m)));

        Assert.Single(settlements, settlement => settlement.AlertsCrossed.Count == 1);
        Assert.Equal(1m, (await Guard.StateAsync(window)).SpentUsd);
    }

    [Fact]
    public async Task A_settled_call_killed_before_its_ledger_write_reaches_the_ledger_once_after_restart()
    {
        var card = NewCard();
        var window = Windows.For(card).Single(window => window.Name == $"card {card}");
        var entry = LedgerEntry.For($"queued-{card}", DateTimeOffset.UtcNow, new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.00035m),
            new CostAttribution(card, "development", "developer-1"), estimated: false);
        // Settled (counted and queued in one step), then the process died before any drain.
        Assert.True((await Guard.SettleAsync(entry.CallId, [window], entry.CostUsd, entry)).Counted);

        // The restarted service's reconciler drains the queue, then replays the ledger: counted once, recorded once.
        var reconciler = pipeline.Services.GetRequiredService<BudgetReconciler>();
        await pipeline.Services.GetRequiredService<CostLedger>().DrainAsync(CancellationToken.None);
        await reconciler.ReconcileAsync(CancellationToken.None);
        await reconciler.ReconcileAsync(CancellationToken.None);

        var row = Assert.Single(await pipeline.LedgerAsync(card));
        Assert.Equal(0.00035m, row.Usd);
        Assert.Equal(0.00035m, (await Guard.StateAsync(window)).SpentUsd);
    }
}
