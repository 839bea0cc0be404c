namespace Artemis.Web.AgentsApi;

/// <summary><c>GET /api/supervisor/report</c>.</summary>
public sealed record SupervisorReport(
    DateTimeOffset GeneratedAt,
    IReadOnlyDictionary<string, long> CardsByStage,
    long Finished,
    long Succeeded,
    double? SuccessRate,
    IReadOnlyList<StageTime> MeanTimePerStage,
    long Retries,
    long Interventions,
    decimal SpentUsd,
    IReadOnlyList<AgentFigures> Agents,
    IReadOnlyList<ActiveCard> Active,
    long Lessons);

public sealed record StageTime(string Stage, long Cards, double MeanSeconds);

public sealed record AgentFigures(string Agent, long Attempts, long Wins, long Passed, long Turns, long Retries, long Interventions, decimal CostUsd);

public sealed record ActiveCard(string CardId, string Title, string Stage, string Owner, DateTimeOffset LeaseExpiresAt);
