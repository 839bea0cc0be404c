namespace Artemis.ModelSimulator;

internal static partial class SimulatorLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Loaded the script {Source}: {Steps} steps, fallback {HasFallback}")]
    public static partial void ScriptLoaded(ILogger logger, string source, int steps, bool hasFallback);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Rejected a new script: {Reason}")]
    public static partial void ScriptRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "Request {Sequence} answered by {Step}")]
    public static partial void Answered(ILogger logger, long sequence, string? step);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Request {Sequence}: fault '{Kind}' from {Step}")]
    public static partial void FaultInjected(ILogger logger, long sequence, string? kind, string? step);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Warning, Message = "Request {Sequence}: {Problem}")]
    public static partial void BadRequest(ILogger logger, long sequence, string problem);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Information, Message = "Request {Sequence}: the client went away before the answer was complete")]
    public static partial void ClientCancelled(ILogger logger, long sequence);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Warning, Message = "Rejected {Method} {Path}: missing or wrong API key")]
    public static partial void Unauthorized(ILogger logger, string method, string path);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Realtime session {Session} started for {Model}")]
    public static partial void RealtimeSessionStarted(ILogger logger, string session, string model);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Realtime session {Session} ended")]
    public static partial void RealtimeSessionEnded(ILogger logger, string session);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Realtime session {Session}: {Problem}")]
    public static partial void RealtimeClientError(ILogger logger, string session, string problem);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Debug, Message = "Realtime session {Session}: response {Response} {Status} by {Step}")]
    public static partial void RealtimeResponseDone(ILogger logger, string session, string response, string status, string? step);
}
