using Artemis.Agents.Api;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Artemis.Agents.Costs;

/// <summary><c>GET /api/costs</c>: every priced call from the ledger, in total and broken down.</summary>
public static class CostsApi
{
    public static IEndpointRouteBuilder MapCostsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(ApiExtensions.ApiPrefix)
            .MapGet("/costs", GetCostsAsync)
            .WithName("GetCosts")
            .WithSummary("Calls, dollars and tokens by model, card, stage, agent and day; budgets; the latest alerts");
        return app;
    }

    public static async Task<Ok<CostsResponse>> GetCostsAsync(
        CostLedger ledger, BudgetGuard budgets, BudgetWindows windows, CancellationToken cancellationToken)
    {
        var summary = await ledger.SummarizeAsync(cancellationToken);
        var states = new List<BudgetState>();
        foreach (var window in windows.For(cardId: null))
        {
            states.Add(await budgets.StateAsync(window));
        }

        return TypedResults.Ok(new CostsResponse(
            summary.Calls, summary.TotalUsd, summary.ByModel, summary.ByCard, summary.ByStage, summary.ByAgent, summary.ByDay, states, summary.Alerts));
    }
}

public sealed record CostsResponse(
    long Calls,
    decimal TotalUsd,
    IReadOnlyList<CostBreakdown> ByModel,
    IReadOnlyList<CostBreakdown> ByCard,
    IReadOnlyList<CostBreakdown> ByStage,
    IReadOnlyList<CostBreakdown> ByAgent,
    IReadOnlyList<CostBreakdown> ByDay,
    IReadOnlyList<BudgetState> Budgets,
    IReadOnlyList<BudgetAlertRecord> Alerts);
