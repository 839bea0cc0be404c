namespace Artemis.Agents.Api;

internal static partial class ApiLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Rejected {Method} {Path}: missing or wrong API key")]
    public static partial void RejectedRequest(ILogger logger, string method, PathString path);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Unhandled exception in {Method} {Path}")]
    public static partial void UnhandledException(ILogger logger, string method, PathString path, Exception exception);
}
