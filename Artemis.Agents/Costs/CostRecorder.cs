namespace Artemis.Agents.Costs;

/// <summary>
/// Counts one priced call, the same way for every caller (chat calls in <see cref="CostFilter"/>, realtime responses
/// in the voice bridge): settled in every budget and queued for the ledger in one atomic Redis step, once per call id
/// so a replay can never count it twice; the ledger writer is woken, the instruments recorded, alerts raised.
/// </summary>
public sealed class CostRecorder(BudgetGuard budgets, LedgerWriter ledger, BudgetAlerts alerts, CostMetrics metrics, ILogger<CostRecorder> logger)
{
    public async Task<Settlement> RecordAsync(
        string callId, IReadOnlyList<BudgetWindow> windows, DateTimeOffset occurredAt, CallCost cost, CostAttribution attribution, bool estimated,
        CancellationToken cancellationToken)
    {
        var entry = LedgerEntry.For(callId, occurredAt, cost, attribution, estimated);
        var settlement = await budgets.SettleAsync(callId, windows, cost.Usd, entry);
        ledger.Nudge();
        metrics.Counted(entry, settlement.Counted, logger);

        if (settlement.AlertsCrossed.Count > 0)
        {
            await alerts.RaiseAsync(settlement, cancellationToken);
        }

        return settlement;
    }
}
