namespace Artemis.Agents.Costs;

public static class CostsExtensions
{
    /// <summary>Prices, the prompt-token estimator, the cost ledger, budgets and the cost instruments.</summary>
    public static IHostApplicationBuilder AddCosts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => PriceCatalog.Load(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<TokenEstimator>();
        builder.Services.AddSingleton<CostLedger>();
        builder.Services.AddSingleton<CostMetrics>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BudgetOptions>>().Value);
        builder.Services.AddOptions<BudgetOptions>().BindConfiguration(BudgetOptions.SectionName);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BudgetWindows>();
        builder.Services.AddSingleton<BudgetGuard>();
        builder.Services.AddSingleton<BudgetAlerts>();
        builder.Services.AddSingleton<CostRecorder>();
        builder.Services.AddSingleton<BudgetReconciler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BudgetReconciler>());
        builder.Services.AddSingleton<LedgerWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LedgerWriter>());
        // After the ledger writer, so it stops first: what it syncs while stopping is in the writer's last drain.
        builder.Services.AddSingleton<BudgetLeases>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BudgetLeases>());
        return builder;
    }
}
