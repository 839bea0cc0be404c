using System.Diagnostics.Metrics;
using Artemis.Agents.Messaging;

namespace Artemis.Agents.Costs;

/// <summary>
/// Raises an alert exactly once per budget window when spending reaches <c>Artemis:Budget:AlertThreshold</c>: an
/// event (stored and streamed), an error in the log and the <c>artemis.budget.alerts</c> counter. Which settle crossed
/// the threshold first is decided atomically in Redis by <see cref="BudgetGuard.SettleAsync"/>, across replicas.
/// </summary>
public sealed partial class BudgetAlerts(BudgetGuard budgets, BudgetOptions options, EventPublisher events, IMeterFactory meters, ILogger<BudgetAlerts> logger)
{
    private readonly Counter<long> _alerts = meters.Create(CostMetrics.MeterName)
        .CreateCounter<long>("artemis.budget.alerts", "{alert}", "Budget windows that reached the alert threshold");

    /// <summary>Raises the alert of each window a settle reported as crossing its threshold (once per window).</summary>
    public async Task RaiseAsync(Settlement settlement, CancellationToken cancellationToken)
    {
        foreach (var window in settlement.AlertsCrossed)
        {
            var state = await budgets.StateAsync(window);
            AlertRaised(logger, window.Name, state.SpentUsd, window.LimitUsd, options.AlertThreshold);
            _alerts.Add(1, new KeyValuePair<string, object?>("window", window.Key[BudgetWindows.KeyPrefix.Length..].Split(':')[0]));
            // Published like every other event: stored in order and streamed live to the web.
            await events.PublishAsync(
                window.Name.StartsWith("card ", StringComparison.Ordinal) ? window.Name[5..] : null,
                EventKinds.BudgetAlert,
                new { window = window.Name, limitUsd = window.LimitUsd, spentUsd = state.SpentUsd, threshold = options.AlertThreshold },
                cancellationToken);
        }
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "Budget alert: the {Window} budget has ${Spent} spent of ${Limit} (threshold {Threshold:P0})")]
    private static partial void AlertRaised(ILogger logger, string window, decimal spent, decimal limit, double threshold);
}
