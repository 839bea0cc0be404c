using Artemis.Agents.Messaging;

namespace Artemis.Agents.Cards;

/// <summary>A card as the API shows it. <see cref="BudgetUsd"/> null: bounded by <c>Artemis:Budget:PerCardUsd</c>.</summary>
public sealed record Card(
    string Id,
    string Title,
    string Description,
    string Workspace,
    string WorkspaceKind,
    string TestCommand,
    decimal? BudgetUsd,
    CardStage Stage,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset StageChangedAt,
    DateTimeOffset? FinishedAt,
    string? LeaseOwner,
    DateTimeOffset? LeaseExpiresAt,
    string? Plan,
    int? WinnerAttempt,
    string? ResultReason);

/// <summary>One developer agent's attempt at a card, with what the arbiter found.</summary>
public sealed record Attempt(
    int Number,
    string Agent,
    string Status,
    int Turns,
    int Retries,
    decimal CostUsd,
    string? Diff,
    int? DiffLines,
    bool EditsTests,
    bool? TestsPassed,
    int? TestsFailed,
    int? TestExitCode,
    string? TestOutput,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    int Interventions,
    string? Outcome,
    int TestRuns);

/// <summary>How many events a card has, of which kinds, and the latest few.</summary>
public sealed record CardEventsSummary(long Count, long? LastEventId, IReadOnlyDictionary<string, long> ByKind, IReadOnlyList<CardEvent> Recent);

/// <summary><c>GET /api/cards/{id}</c>: the card, its attempts and its events.</summary>
public sealed record CardDetails(Card Card, IReadOnlyList<Attempt> Attempts, CardEventsSummary Events);

/// <summary><c>POST /api/cards</c>'s body.</summary>
public sealed record CreateCardRequest(string? Title, string? Description, string? Workspace, string? TestCommand, decimal? BudgetUsd);

/// <summary>A create request that passed validation: trimmed, the workspace resolved to its real path.</summary>
public sealed record NewCard(string Title, string Description, string Workspace, string WorkspaceKind, string TestCommand, decimal? BudgetUsd);

/// <summary>The card does not exist (404).</summary>
public sealed class CardNotFoundException(string cardId) : Exception($"There is no card '{cardId}'.")
{
    public string CardId { get; } = cardId;
}

/// <summary>The card's stage does not allow what was asked (409), e.g. cancelling a finished card.</summary>
public sealed class CardStageConflictException(string cardId, CardStage stage, string action)
    : Exception($"Card '{cardId}' is {stage} and cannot be {action}.")
{
    public string CardId { get; } = cardId;

    public CardStage Stage { get; } = stage;
}
