namespace Artemis.Agents.Costs;

/// <summary>Spending limits in USD, enforced before each model call (issue #4).</summary>
public sealed class BudgetOptions
{
    public const string SectionName = "Artemis:Budget";

    public decimal DailyUsd { get; set; } = 10m;
    public decimal MonthlyUsd { get; set; } = 200m;
    public decimal PerCardUsd { get; set; } = 2m;

    /// <summary>Share of a budget at which an alert is raised, in (0, 1].</summary>
    public double AlertThreshold { get; set; } = 0.8;

    /// <summary>IANA or Windows time zone id for daily and monthly windows; UTC when empty.</summary>
    public string? TimeZone { get; set; }
}
