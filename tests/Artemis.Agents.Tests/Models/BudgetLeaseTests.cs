using Artemis.Agents.Costs;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;

namespace Artemis.Agents.Tests.Models;

/// <summary>
/// Budget leases on real Redis (ADR-012): calls admitted in memory against what each replica leased, never more than a
/// budget between any number of replicas, nothing lost when a replica gives its lease back or dies.
/// </summary>
public sealed class BudgetLeaseTests(ModelPipelineFixture pipeline) : IClassFixture<ModelPipelineFixture>
{
    private const decimal CallUsd = 0.01m;

    private BudgetGuard Guard => pipeline.Services.GetRequiredService<BudgetGuard>();

    /// <summary>The service's own leases (a hosted service: it syncs, returns idle amounts and raises alerts by itself).</summary>
    private BudgetLeases Leases => pipeline.Services.GetRequiredService<BudgetLeases>();

    /// <summary>Another replica's leases on the same Redis: not started, so it syncs only when a call or the test asks.</summary>
    private BudgetLeases OtherReplica() => ActivatorUtilities.CreateInstance<BudgetLeases>(pipeline.Services);

    private static BudgetWindow TestWindow(decimal limitUsd) =>
        new("test", BudgetWindows.KeyPrefix + "test:" + Guid.NewGuid().ToString("N"), limitUsd);

    private static async Task<bool> SpendAsync(BudgetLeases replica, IReadOnlyList<BudgetWindow> windows, string cardId, decimal usd = CallUsd)
    {
        try
        {
            var admission = await replica.AdmitAsync(windows, usd);
            var cost = new CallCost("gpt-4o", 100, 0, 10, 0, 0, usd);
            var attribution = new CostAttribution(cardId, "development", "developer-1");
            replica.Settle(admission, LedgerEntry.For(Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow, cost, attribution, estimated: false));
            return true;
        }
        catch (BudgetExceededException)
        {
            return false;
        }
    }

    [Fact]
    public async Task One_replica_admits_exactly_what_the_budget_allows_and_gives_back_what_no_call_holds()
    {
        var window = TestWindow(100 * CallUsd);

        var admissions = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async _ =>
        {
            try
            {
                return await Leases.AdmitAsync([window], CallUsd);
            }
            catch (BudgetExceededException)
            {
                return null;
            }
        }));

        var admitted = admissions.OfType<BudgetAdmission>().ToList();
        Assert.Equal(100, admitted.Count);
        Assert.Equal(window.LimitUsd, (await Guard.StateAsync(window)).ReservedUsd);
        admitted.ForEach(Leases.Release);
        await Leases.ReturnUnusedAsync(CancellationToken.None);
        Assert.Equal((0m, 0m), ((await Guard.StateAsync(window)).SpentUsd, (await Guard.StateAsync(window)).ReservedUsd));
    }

    [Fact]
    public async Task Two_replicas_spending_at_once_never_exceed_the_budget_and_lose_none_of_it()
    {
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var window = TestWindow(100 * CallUsd);
        using var other = OtherReplica();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => SpendAsync(i % 2 == 0 ? Leases : other, [window], card)));
        var spent = outcomes.Count(ran => ran);

        Assert.InRange(spent, 1, 100);
        await Task.WhenAll(Leases.ReturnUnusedAsync(CancellationToken.None), other.ReturnUnusedAsync(CancellationToken.None));
        var state = await Guard.StateAsync(window);
        Assert.Equal((spent * CallUsd, 0m), (state.SpentUsd, state.ReservedUsd));

        // Whatever one replica was refused while the other held room is still there once the leases are back.
        while (await SpendAsync(other, [window], card))
        {
            spent++;
        }

        Assert.Equal(100, spent);
        await other.FlushAsync(CancellationToken.None);
        Assert.Equal(100, (await pipeline.LedgerAsync(card)).Count);
        Assert.Equal(window.LimitUsd, (await Guard.StateAsync(window)).SpentUsd);
    }

    [Fact]
    public async Task A_dead_replicas_lease_is_swept_back_and_a_stalled_one_that_returns_re_reserves_only_what_it_holds()
    {
        var window = TestWindow(1m);
        using var stalled = OtherReplica();
        var held = await stalled.AdmitAsync([window], 0.3m);

        // Its lease is not renewed within its lifetime (the process died, or stalled that long): the next sync of any
        // replica sweeps it, and the whole budget is free again.
        var database = pipeline.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        await database.SortedSetAddAsync(BudgetWindows.KeyPrefix + "reservations", stalled.Id, 0);
        var everything = await Leases.AdmitAsync([window], 1m);
        Leases.Release(everything);
        await Leases.ReturnUnusedAsync(CancellationToken.None);
        Assert.Equal(0m, (await Guard.StateAsync(window)).ReservedUsd);

        // The stalled replica comes back and its call ends: counted, and its lease rebuilt from what it still holds
        // (nothing once the call is settled) — never a negative or doubled reservation.
        var cost = new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.2m);
        var attribution = new CostAttribution(null, null, null);
        stalled.Settle(held, LedgerEntry.For(Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow, cost, attribution, estimated: false));
        await stalled.ReturnUnusedAsync(CancellationToken.None);

        var state = await Guard.StateAsync(window);
        Assert.Equal((0.2m, 0m), (state.SpentUsd, state.ReservedUsd));
    }

    [Fact]
    public async Task A_call_the_budget_cannot_cover_is_refused_with_its_figures_and_changes_nothing()
    {
        var window = TestWindow(1m);
        Assert.True(await SpendAsync(Leases, [window], "card-refused", 0.7m));
        await Leases.FlushAsync(CancellationToken.None);

        var refused = await Assert.ThrowsAsync<BudgetExceededException>(async () => await Leases.AdmitAsync([window], 0.5m));

        Assert.Equal(window, refused.Window);
        Assert.Contains("$0.7 spent", refused.Message, StringComparison.Ordinal);
        await Leases.ReturnUnusedAsync(CancellationToken.None);
        Assert.Equal((0.7m, 0m), ((await Guard.StateAsync(window)).SpentUsd, (await Guard.StateAsync(window)).ReservedUsd));
    }

    [Fact]
    public async Task Concurrent_calls_settled_across_the_alert_threshold_raise_one_alert()
    {
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var windows = pipeline.Services.GetRequiredService<BudgetWindows>().For(card).Where(window => window.Name == $"card {card}").ToList();
        var calls = (int)(windows[0].LimitUsd / CallUsd);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, calls).Select(_ => SpendAsync(Leases, windows, card)));
        await Leases.FlushAsync(CancellationToken.None);

        Assert.All(outcomes, Assert.True);
        await using var command = pipeline.Database.CreateCommand("SELECT count(*) FROM events WHERE kind = 'budget.alert' AND card_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = card });
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((long)(await command.ExecuteScalarAsync())! == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // Raised by the leases' loop; a second one would come at its next tick.
        await Task.Delay(BudgetLeases.IdleReturn);
        Assert.Equal(1L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Amounts_near_the_largest_budget_allowed_stay_exact_to_the_nano_dollar()
    {
        // Budgets are at most $9,000,000 (configuration validation): in nano-dollars, exact in Lua's doubles.
        var window = TestWindow(9_000_000m);
        await Guard.ReserveAsync($"large-{Guid.NewGuid():N}", [window], 7_999_999.999999999m, TimeSpan.FromMinutes(1));
        var admission = await Leases.AdmitAsync([window], 1_000_000.000000001m);

        Assert.Equal(9_000_000m, (await Guard.StateAsync(window)).ReservedUsd);
        await Assert.ThrowsAsync<BudgetExceededException>(async () => await Leases.AdmitAsync([window], 0.000000001m));
        Leases.Release(admission);
        await Leases.ReturnUnusedAsync(CancellationToken.None);
        Assert.Equal(7_999_999.999999999m, (await Guard.StateAsync(window)).ReservedUsd);
    }

    [Fact]
    public async Task Calls_settled_while_Redis_refuses_the_sync_are_kept_and_counted_once_when_it_accepts_again()
    {
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var window = TestWindow(1m);
        var database = pipeline.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        using var replica = OtherReplica();
        Assert.True(await SpendAsync(replica, [window], card, 0.25m));
        await replica.FlushAsync(CancellationToken.None);

        // The ledger's queue is unusable (a key of the wrong type): every sync fails, and says so.
        var aside = CostLedger.PendingStream + ":aside";
        var queueExisted = await database.KeyExistsAsync(CostLedger.PendingStream) && await database.KeyRenameAsync(CostLedger.PendingStream, aside);
        await database.StringSetAsync(CostLedger.PendingStream, "not a stream");
        try
        {
            Assert.True(await SpendAsync(replica, [window], card, 0.25m));
            await Assert.ThrowsAsync<RedisServerException>(() => replica.FlushAsync(CancellationToken.None));
            await Assert.ThrowsAsync<RedisServerException>(() => replica.FlushAsync(CancellationToken.None));
            Assert.Equal(0.25m, (await Guard.StateAsync(window)).SpentUsd);
        }
        finally
        {
            await database.KeyDeleteAsync(CostLedger.PendingStream);
            if (queueExisted)
            {
                await database.KeyRenameAsync(aside, CostLedger.PendingStream);
            }
        }

        await replica.ReturnUnusedAsync(CancellationToken.None);
        var state = await Guard.StateAsync(window);
        Assert.Equal((0.5m, 0m), (state.SpentUsd, state.ReservedUsd));
        Assert.Equal([0.25m, 0.25m], (await pipeline.LedgerAsync(card)).Select(row => row.Usd));
    }

    [Fact]
    public async Task Calls_synced_in_batches_beside_single_call_items_are_each_recorded_and_counted_once()
    {
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var window = TestWindow(10m);
        using var replica = OtherReplica();

        // More calls than one sync takes (256): the ledger's queue gets more than one batch item.
        var spent = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => SpendAsync(replica, [window], card)));
        Assert.All(spent, Assert.True);
        await replica.ReturnUnusedAsync(CancellationToken.None);

        // Beside them, a call settled on its own (BudgetGuard's item: one entry) and a batch item queued twice (a sync
        // whose answer was lost, run again): each call is one ledger row.
        var database = pipeline.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var cost = new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.5m);
        var attribution = new CostAttribution(card, "review", "voice");
        LedgerEntry Entry() => LedgerEntry.For(Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow, cost, attribution, estimated: false);
        var batch = LedgerEntry.ToJson([Entry(), Entry()]);
        await database.StreamAddAsync(CostLedger.PendingStream, "entry", Entry().ToJson());
        await database.StreamAddAsync(CostLedger.PendingStream, "entries", batch);
        await database.StreamAddAsync(CostLedger.PendingStream, "entries", batch);

        var rows = await pipeline.LedgerAsync(card);
        Assert.Equal(303, rows.Count);
        Assert.Equal(303, rows.Select(row => row.CallId).Distinct().Count());
        Assert.Equal(300 * CallUsd + 3 * 0.5m, rows.Sum(row => row.Usd));
        var state = await Guard.StateAsync(window);
        Assert.Equal((300 * CallUsd, 0m), (state.SpentUsd, state.ReservedUsd));
    }

    [Fact]
    public void A_batch_of_ledger_entries_round_trips_and_a_null_in_it_is_refused()
    {
        var cost = new CallCost("gpt-4o-mini", 120, 20, 12, 0, 0, 0.000123456m);
        var entries = new List<LedgerEntry>
        {
            LedgerEntry.For("call-1", DateTimeOffset.UnixEpoch, cost, new CostAttribution("card-1", "development", "developer-1"), estimated: false),
            LedgerEntry.For("call-2", DateTimeOffset.UnixEpoch, cost, new CostAttribution(null, null, null), estimated: true),
        };

        Assert.Equal(entries, LedgerEntry.ManyFromJson(LedgerEntry.ToJson(entries)));
        Assert.Throws<System.Text.Json.JsonException>(() => LedgerEntry.ManyFromJson("[null]"));
        Assert.Throws<System.Text.Json.JsonException>(() => LedgerEntry.ManyFromJson("null"));
    }

    [Fact]
    public async Task A_queued_item_that_is_not_a_ledger_entry_is_set_aside_with_why_and_the_entries_after_it_are_recorded()
    {
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var database = pipeline.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var good = LedgerEntry.For(Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow, new CallCost("gpt-4o", 100, 0, 10, 0, 0, 0.5m),
            new CostAttribution(card, "review", "voice"), estimated: false);
        RedisValue[] bad =
        [
            await database.StreamAddAsync(CostLedger.PendingStream, "entry", "not json"),
            await database.StreamAddAsync(CostLedger.PendingStream, "something", "else"),
            await database.StreamAddAsync(CostLedger.PendingStream, "entries", """[{"CallId":"no-model","CostUsd":1}]"""),
            await database.StreamAddAsync(CostLedger.PendingStream, "entry", good.ToJson().Replace("\"InputTokens\":100", "\"InputTokens\":-100", StringComparison.Ordinal)),
        ];
        await database.StreamAddAsync(CostLedger.PendingStream, "entry", good.ToJson());

        var row = Assert.Single(await pipeline.LedgerAsync(card));
        Assert.Equal((good.CallId, 0.5m), (row.CallId, row.Usd));

        var rejected = (await database.StreamRangeAsync(CostLedger.RejectedStream)).Where(item => bad.Contains(item["item"])).ToList();
        Assert.Equal(bad, rejected.Select(item => item["item"]));
        Assert.All(rejected, item => Assert.False(string.IsNullOrEmpty(item["reason"])));
        Assert.Equal("not json", rejected[0]["entry"]);
        Assert.Equal("else", rejected[1]["something"]);
        Assert.Contains("Model", rejected[2]["reason"].ToString(), StringComparison.Ordinal);
        Assert.Contains("negative", rejected[3]["reason"].ToString(), StringComparison.Ordinal);
        foreach (var id in bad)
        {
            Assert.Empty(await database.StreamRangeAsync(CostLedger.PendingStream, id, id));
        }
    }
}
