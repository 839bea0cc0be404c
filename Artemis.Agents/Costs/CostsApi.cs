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
            .WithSummary("Calls, dollars and tokens by model, card, stage, agent and day");
        return app;
    }

    public static async Task<Ok<CostSummary>> GetCostsAsync(CostLedger ledger, CancellationToken cancellationToken) =>
        TypedResults.Ok(await ledger.SummarizeAsync(cancellationToken));
}
