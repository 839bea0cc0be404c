namespace Artemis.Web.Voice;

internal static partial class VoiceProxyLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Voice: relaying a page's session to {Bridge}")]
    public static partial void Relaying(ILogger logger, string bridge);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Voice: a session ended ({Status}: {Reason})")]
    public static partial void Ended(ILogger logger, int? status, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Voice: a session was refused ({Code}): {Message}")]
    public static partial void Refused(ILogger logger, string code, string message);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Voice: the connection to {Side} was lost: {Problem}")]
    public static partial void Lost(ILogger logger, string side, string problem);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Voice: refused a WebSocket from another origin ({Origin})")]
    public static partial void ForeignOrigin(ILogger logger, string origin);
}
