namespace Artemis.Agents.Files;

internal static partial class FilesLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "files.{Function} refused '{Path}' in {Workspace}: {Code}")]
    public static partial void Refused(ILogger logger, string function, string path, string workspace, string code);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Debug, Message = "files.write_file wrote {Bytes} bytes to '{Path}' in {Workspace}")]
    public static partial void Wrote(ILogger logger, string path, long bytes, string workspace);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "files.open_file asked the browser to show '{Path}' of {Workspace}")]
    public static partial void OpenRequested(ILogger logger, string path, string workspace);
}
