namespace Artemis.Agents.Persistence;

internal static partial class PersistenceLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Schema of artemisdb is up to date ({Applied} scripts applied now)")]
    public static partial void MigrationCompleted(ILogger logger, int applied);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Schema migration of artemisdb failed")]
    public static partial void MigrationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1003, Message = "DbUp: {Message}")]
    public static partial void DbUpMessage(ILogger logger, LogLevel level, string message);
}
