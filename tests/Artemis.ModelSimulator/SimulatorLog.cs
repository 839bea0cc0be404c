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
}
