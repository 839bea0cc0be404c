namespace Artemis.Agents.Costs;

/// <summary>One budget a call counts against: its Redis key, its limit, and a name for people.</summary>
public sealed record BudgetWindow(string Name, string Key, decimal LimitUsd);

/// <summary>
/// The budgets of a call: today's and this month's (in <c>Artemis:Budget:TimeZone</c>, UTC by default) and, for a
/// call made for a card, that card's.
/// </summary>
public sealed class BudgetWindows(BudgetOptions options, TimeProvider time)
{
    public const string KeyPrefix = "artemis:budget:";

    private readonly TimeZoneInfo _zone = string.IsNullOrWhiteSpace(options.TimeZone)
        ? TimeZoneInfo.Utc
        : TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone);

    public IReadOnlyList<BudgetWindow> For(string? cardId, decimal? cardBudgetUsd = null) => For(time.GetUtcNow(), cardId, cardBudgetUsd);

    /// <summary>The windows at <paramref name="atUtc"/>; a card's budget is its own when smaller than <c>PerCardUsd</c>.</summary>
    public IReadOnlyList<BudgetWindow> For(DateTimeOffset atUtc, string? cardId, decimal? cardBudgetUsd = null)
    {
        var local = TimeZoneInfo.ConvertTime(atUtc, _zone);
        var windows = new List<BudgetWindow>(3)
        {
            new($"day {local:yyyy-MM-dd}", $"{KeyPrefix}day:{local:yyyy-MM-dd}", options.DailyUsd),
            new($"month {local:yyyy-MM}", $"{KeyPrefix}month:{local:yyyy-MM}", options.MonthlyUsd),
        };
        if (!string.IsNullOrEmpty(cardId))
        {
            windows.Add(new($"card {cardId}", $"{KeyPrefix}card:{cardId}", cardBudgetUsd is > 0 and var own ? Math.Min(own, options.PerCardUsd) : options.PerCardUsd));
        }

        return windows;
    }
}

/// <summary>A call refused before it was sent: it could have taken a budget past its limit.</summary>
public sealed class BudgetExceededException(BudgetWindow window, decimal spentUsd, decimal reservedUsd, decimal requestedUsd)
    : Exception($"The {window.Name} budget of ${window.LimitUsd} could be exceeded: ${spentUsd} spent, ${reservedUsd} reserved by calls in flight, " +
                $"and this call could cost up to ${requestedUsd}. The call was not sent.")
{
    public BudgetWindow Window { get; } = window;
}
