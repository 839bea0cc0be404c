namespace Artemis.Web.AgentsApi;

internal static partial class AgentsApiLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning,
        Message = "The event stream of card {CardId} dropped after event {LastEventId} ({Problem}); reconnecting in {DelaySeconds} s")]
    public static partial void EventStreamDropped(ILogger logger, string cardId, long lastEventId, string problem, double delaySeconds);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Skipped an unreadable event {EventId} ({Kind})")]
    public static partial void UnreadableEvent(ILogger logger, string? eventId, string kind, Exception exception);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Live events: following card {CardId}")]
    public static partial void LiveFollowing(ILogger logger, string cardId);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Live events: card {CardId} finished, its stream is closed ({Events} events)")]
    public static partial void LiveFinished(ILogger logger, string cardId, int events);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Live events: listing the cards failed: {Problem}")]
    public static partial void LiveListFailed(ILogger logger, string problem);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Live events: following card {CardId} failed")]
    public static partial void LiveFollowFailed(ILogger logger, string cardId, Exception exception);
}
