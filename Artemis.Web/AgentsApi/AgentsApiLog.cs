namespace Artemis.Web.AgentsApi;

internal static partial class AgentsApiLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning,
        Message = "The event stream of {Of} dropped after event {LastEventId} ({Problem}); reconnecting in {DelaySeconds} s")]
    public static partial void EventStreamDropped(ILogger logger, string of, long lastEventId, string problem, double delaySeconds);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Skipped an unreadable event {EventId} ({Kind})")]
    public static partial void UnreadableEvent(ILogger logger, string? eventId, string kind, Exception exception);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Live events: the title of card {CardId} could not be read: {Problem}")]
    public static partial void LiveTitleFailed(ILogger logger, string cardId, string problem);
}
