using Artemis.Agents.Cards;

namespace Artemis.Agents.Supervision;

internal static partial class SupervisionLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Supervisor {Owner} started: up to {Cards} cards at once, {Developers} developer agents each")]
    public static partial void Started(ILogger logger, string owner, int cards, int developers);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Artemis:Agents:Supervise is false: this replica serves the API and takes no cards")]
    public static partial void NotSupervising(ILogger logger);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "Card {CardId} claimed by {Owner} (lease generation {Generation})")]
    public static partial void Claimed(ILogger logger, string cardId, string owner, long generation);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Warning, Message = "Claiming cards failed ({Failures} in a row); trying again")]
    public static partial void ClaimFailed(ILogger logger, int failures, Exception exception);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Debug, Message = "Card {CardId} is {Stage} (lease {Owner}, generation {Generation})")]
    public static partial void Stage(ILogger logger, string cardId, CardStage stage, string owner, long generation);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Information, Message = "Card {CardId}: {From} → {To} ({Reason})")]
    public static partial void Moved(ILogger logger, string cardId, CardStage from, CardStage to, string reason);

    [LoggerMessage(EventId = 9007, Level = LogLevel.Information, Message = "Card {CardId} attempt {Attempt} ({Agent}) {Status} after {Turns} turns, {Lines} lines changed")]
    public static partial void AttemptEnded(ILogger logger, string cardId, int attempt, string agent, string status, int turns, int lines);

    [LoggerMessage(EventId = 9008, Level = LogLevel.Warning, Message = "Card {CardId}: {Agent}'s model call failed; retry {Retry}: {Error}")]
    public static partial void TurnRetried(ILogger logger, string cardId, string agent, int retry, string error);

    [LoggerMessage(EventId = 9009, Level = LogLevel.Information, Message = "Card {CardId} was cancelled; its work stopped ({Signal})")]
    public static partial void StoppedForCancel(ILogger logger, string cardId, string signal);

    [LoggerMessage(EventId = 9010, Level = LogLevel.Warning, Message = "Card {CardId}: work stopped without writing: {Why}")]
    public static partial void WorkStopped(ILogger logger, string cardId, string why);

    [LoggerMessage(EventId = 9011, Level = LogLevel.Information, Message = "Card {CardId} released by {Owner} (stopping): the next replica resumes it")]
    public static partial void Released(ILogger logger, string cardId, string owner);

    [LoggerMessage(EventId = 9012, Level = LogLevel.Error, Message = "Card {CardId}: the supervisor's work failed")]
    public static partial void CardError(ILogger logger, string cardId, Exception exception);

    [LoggerMessage(EventId = 9013, Level = LogLevel.Warning, Message = "Card {CardId}: could not close its work; its lease will lapse")]
    public static partial void CloseFailed(ILogger logger, string cardId, Exception exception);

    [LoggerMessage(EventId = 9014, Level = LogLevel.Warning, Message = "Card {CardId}: lease {State}; stopping its work")]
    public static partial void LeaseEnded(ILogger logger, string cardId, LeaseState state);

    [LoggerMessage(EventId = 9015, Level = LogLevel.Information, Message = "Offline demo: sample card {CardId} created on {Workspace}")]
    public static partial void SampleCreated(ILogger logger, string cardId, string workspace);
}
