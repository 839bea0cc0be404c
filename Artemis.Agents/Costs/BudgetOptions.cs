namespace Artemis.Agents.Costs;

/// <summary>Spending limits in USD, enforced before each model call (issue #4).</summary>
public sealed class BudgetOptions
{
    public const string SectionName = "Artemis:Budget";

    public decimal DailyUsd { get; set; } = 10m;
    public decimal MonthlyUsd { get; set; } = 200m;
    public decimal PerCardUsd { get; set; } = 2m;

    /// <summary>
    /// How much more than a call lacks a replica's budget lease grows by at a time (never more than an eighth of what
    /// is left of the budget); 0 grows it by exactly what each call lacks (ADR-012).
    /// </summary>
    public decimal LeaseUsd { get; set; } = 0.10m;

    /// <summary>Share of a budget at which an alert is raised, in (0, 1].</summary>
    public double AlertThreshold { get; set; } = 0.8;

    /// <summary>IANA or Windows time zone id for daily and monthly windows; UTC when empty.</summary>
    public string? TimeZone { get; set; }
}
