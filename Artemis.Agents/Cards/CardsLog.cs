namespace Artemis.Agents.Cards;

internal static partial class CardsLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Card {CardId} created: '{Title}' on {Workspace} ({WorkspaceKind})")]
    public static partial void CardCreated(ILogger logger, string cardId, string title, string workspace, string workspaceKind);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Card {CardId} cancelled (was {From})")]
    public static partial void CardCancelled(ILogger logger, string cardId, CardStage from);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "Event stream of {Of} opened after event {After}")]
    public static partial void StreamOpened(ILogger logger, string of, long after);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Debug, Message = "Event stream of {Of} closed after {Sent} events ({Reason})")]
    public static partial void StreamClosed(ILogger logger, string of, long sent, string reason);
}
