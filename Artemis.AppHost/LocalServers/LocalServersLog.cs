using Microsoft.Extensions.Logging;

namespace Artemis.AppHost.LocalServers;

/// <summary>What the local servers write to their resource's log in the dashboard.</summary>
internal static partial class LocalServersLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "{Problem}")]
    public static partial void CannotStart(ILogger logger, string problem);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "{Resource}: created a PostgreSQL {Major} cluster in {DataDirectory}")]
    public static partial void ClusterCreated(ILogger logger, string resource, int major, string dataDirectory);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "{Resource}: could not create database '{Database}': {Reason}")]
    public static partial void DatabaseNotCreated(ILogger logger, string resource, string database, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "{Problem}")]
    public static partial void PasswordMismatch(ILogger logger, string problem);
}
