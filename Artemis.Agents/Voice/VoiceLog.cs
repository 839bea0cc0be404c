namespace Artemis.Agents.Voice;

internal static partial class VoiceLog
{
    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "Voice session {Session} started with {Model}")]
    public static partial void SessionStarted(ILogger logger, string session, string model);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "Voice session {Session} ended ({Status}): {Reason}; ${Usd} spent")]
    public static partial void SessionEnded(ILogger logger, string session, int status, string reason, decimal usd);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "Voice session {Session} refused: {Reason}")]
    public static partial void SessionRefused(ILogger logger, string session, string reason);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Debug, Message = "Voice session {Session}: response {Response} priced ${Usd} ({Input} in, {Cached} cached, {AudioIn} audio in, {Output} out, {AudioOut} audio out)")]
    public static partial void ResponsePriced(ILogger logger, string session, string response, decimal usd, long input, long cached, long audioIn, long output, long audioOut);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Error, Message = "Voice session {Session}: response {Response} cannot be priced from its usage ({Reason}): charged its worst case, ${Usd}")]
    public static partial void ChargedWorstCase(ILogger logger, string session, string response, string reason, decimal usd);

    [LoggerMessage(EventId = 8006, Level = LogLevel.Information, Message = "Voice session {Session}: barge-in, item {Item} truncated at {PlayedMs} ms")]
    public static partial void BargeIn(ILogger logger, string session, string item, int playedMs);

    [LoggerMessage(EventId = 8007, Level = LogLevel.Information, Message = "Voice session {Session}: tool {Tool} called")]
    public static partial void ToolCalled(ILogger logger, string session, string tool);

    [LoggerMessage(EventId = 8008, Level = LogLevel.Warning, Message = "Voice session {Session}: upstream error {Code}: {Message}")]
    public static partial void UpstreamError(ILogger logger, string session, string? code, string? message);

    [LoggerMessage(EventId = 8009, Level = LogLevel.Warning, Message = "Rejected a voice connection: missing, wrong or used ticket or key")]
    public static partial void Unauthorized(ILogger logger);

    [LoggerMessage(EventId = 8010, Level = LogLevel.Error, Message = "Voice session {Session} failed")]
    public static partial void SessionFailed(ILogger logger, string session, Exception exception);

    [LoggerMessage(EventId = 8011, Level = LogLevel.Information, Message = "Closing {Count} voice sessions: the service is stopping")]
    public static partial void ClosingForShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 8012, Level = LogLevel.Information, Message = "Voice session {Session} created card {Card}: {Title}")]
    public static partial void CardCreated(ILogger logger, string session, string card, string title);
}
