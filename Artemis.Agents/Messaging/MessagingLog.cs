namespace Artemis.Agents.Messaging;

internal static partial class MessagingLog
{
    [LoggerMessage(EventId = 6101, Level = LogLevel.Warning,
        Message = "Events {FirstId} to {LastId} are stored in Postgres but could not be added to the Redis stream; live readers see them when they catch up from Postgres")]
    public static partial void StreamAddFailed(ILogger logger, long firstId, long lastId, Exception exception);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Debug, Message = "Live reader after event {After} fell behind the Redis stream; catching up from Postgres")]
    public static partial void ReaderCatchingUp(ILogger logger, long after);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Warning, Message = "Reading the Redis event stream failed; retrying from Postgres")]
    public static partial void StreamReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Debug, Message = "Live reader of {CardId} after event {After} was too slow for its queue; catching up from Postgres")]
    public static partial void SubscriberCatchingUp(ILogger logger, string cardId, long after);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Warning, Message = "The event follower stopped after event {Position}; starting it again from there")]
    public static partial void FollowerFailed(ILogger logger, long position, Exception exception);
}
