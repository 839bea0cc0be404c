namespace Artemis.Agents.Sandbox;

internal static partial class SandboxLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Sandbox isolation available: bubblewrap {Bwrap}, user namespaces work, jobs run as uids {UidBase}+slot")]
    public static partial void Isolated(ILogger logger, string bwrap, int uidBase);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Error, Message = "Sandbox isolation UNAVAILABLE: {Problem}. Jobs are refused unless Artemis:Sandbox:AllowUnisolated=true")]
    public static partial void Unavailable(ILogger logger, string problem);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Sandbox isolation unavailable ({Problem}) and Artemis:Sandbox:AllowUnisolated=true: jobs run WITHOUT isolation")]
    public static partial void RunningUnisolated(ILogger logger, string problem);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "Sandbox job as uid {Uid} in {Workspace} ended in {DurationMs} ms: exit {ExitCode}, killed by {KilledBy}")]
    public static partial void Finished(ILogger logger, int uid, string workspace, long durationMs, int? exitCode, string killedBy);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "{Count} process(es) of sandbox uid {Uid} still alive 3 s after SIGKILL")]
    public static partial void KilledLeftovers(ILogger logger, int count, int uid);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Warning, Message = "The job folder {JobDirectory} could not be removed after its job")]
    public static partial void CleanupFailed(ILogger logger, string jobDirectory, Exception exception);
}
