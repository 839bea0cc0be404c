using System.Text.Json;
using System.Text.Json.Serialization;

namespace Artemis.Web.AgentsApi;

// The Agents API's card JSON as the web reads it (README, "The API"). The web does not reference Artemis.Agents: it
// is a client of the HTTP contract, like any other.

/// <summary>Where a card is: <c>Queued → Planning → Developing → Arbitrating → Done | Failed | Cancelled</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CardStage>))]
public enum CardStage
{
    Queued,
    Planning,
    Developing,
    Arbitrating,
    Done,
    Failed,
    Cancelled,
}

public static class CardStages
{
    public static readonly IReadOnlyList<CardStage> All = Enum.GetValues<CardStage>();

    public static bool IsFinished(this CardStage stage) => stage is CardStage.Done or CardStage.Failed or CardStage.Cancelled;

    public static bool TryParse(string? text, out CardStage stage) =>
        Enum.TryParse(text, ignoreCase: true, out stage) && Enum.IsDefined(stage) && !int.TryParse(text, out _);
}

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
    int Interventions = 0,
    string? Outcome = null,
    int TestRuns = 0);

public sealed record CardEventsSummary(long Count, long? LastEventId, IReadOnlyDictionary<string, long> ByKind, IReadOnlyList<CardEvent> Recent);

public sealed record CardDetails(Card Card, IReadOnlyList<Attempt> Attempts, CardEventsSummary Events);

public sealed record CreateCardRequest(string? Title, string? Description, string? Workspace, string? TestCommand, decimal? BudgetUsd);

/// <summary>
/// What <c>POST /api/cards</c> answered: the card, or the problems per field keyed by the request's JSON names
/// (<c>title</c>, <c>workspace</c>, <c>testCommand</c>, <c>budgetUsd</c>, …).
/// </summary>
public sealed record CreateCardResult(Card? Card, IReadOnlyDictionary<string, string[]> Errors);

/// <summary>One event; <see cref="Id"/> orders all events and is the SSE event id.</summary>
public sealed record CardEvent(long Id, string? CardId, string Kind, DateTimeOffset OccurredAt, JsonElement Payload)
{
    /// <summary>The stage a <c>card.stage</c> or <c>card.cancelled</c> event moved the card to, if it names one.</summary>
    public CardStage? ToStage =>
        Payload.ValueKind == JsonValueKind.Object
        && Payload.TryGetProperty("to", out var to)
        && to.ValueKind == JsonValueKind.String
        && CardStages.TryParse(to.GetString(), out var stage)
            ? stage
            : Kind == EventKinds.CardCancelled ? CardStage.Cancelled : null;

    /// <summary>True when this event finishes its card: nothing more will be published for it.</summary>
    public bool FinishesCard => Kind is EventKinds.CardStage or EventKinds.CardCancelled && ToStage is { } stage && stage.IsFinished();
}

/// <summary>The kinds of event the Agents service publishes (its <c>Messaging/EventKinds.cs</c>).</summary>
public static class EventKinds
{
    public const string CardCreated = "card.created";
    public const string CardStage = "card.stage";
    public const string CardCancelled = "card.cancelled";
    public const string AgentMessage = "agent.message";
    public const string ToolCall = "tool.call";
    public const string TestResult = "test.result";
    public const string Cost = "cost";
    public const string BudgetAlert = "budget.alert";
    public const string Intervention = "supervisor.intervention";

    public static readonly IReadOnlyList<string> All =
        [CardCreated, CardStage, CardCancelled, AgentMessage, ToolCall, TestResult, Cost, BudgetAlert, Intervention];
}
