namespace Artemis.Agents.Costs;

public static class CostsExtensions
{
    /// <summary>Prices, the prompt-token estimator, the cost ledger and the cost instruments.</summary>
    public static IHostApplicationBuilder AddCosts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => PriceCatalog.Load(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<TokenEstimator>();
        builder.Services.AddSingleton<CostLedger>();
        builder.Services.AddSingleton<CostMetrics>();
        return builder;
    }
}
