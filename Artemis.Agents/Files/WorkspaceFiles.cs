using System.Buffers;
using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.SemanticKernel;

namespace Artemis.Agents.Files;

/// <summary>
/// The <c>files</c> plugin: one agent's file tools, confined to its workspace (ADR 006). Every function returns the
/// JSON the model reads; expected failures are <c>{"ok":false,"error":{code,message}}</c>, never exceptions.
/// </summary>
public sealed class WorkspaceFiles
{
    public const string PluginName = "files";

    /// <summary>A NUL byte in this much of the head marks a file as binary, as git and grep decide.</summary>
    public const int BinaryProbeBytes = 8 * 1024;

    /// <summary>A listing is for the model to read: past this many entries it is cut and says so.</summary>
    public const int MaxListEntries = 1000;

    private readonly WorkspaceRoot _root;
    private readonly WorkspaceOptions _options;
    private readonly IWorkspaceEvents _events;
    private readonly ILogger _logger;

    public WorkspaceFiles(string workspaceRoot, WorkspaceOptions options, IWorkspaceEvents events, ILogger<WorkspaceFiles> logger)
    {
        _root = new WorkspaceRoot(workspaceRoot);
        _options = options;
        _events = events;
        _logger = logger;
    }

    public string Root => _root.FullPath;

    [KernelFunction("read_file"), Description("Read a text file of the workspace. Returns {ok, path, size, content} or {ok:false, error:{code, message}}.")]
    public Task<string> ReadFileAsync(
        [Description("Path of the file, relative to the workspace root, with '/' between folders")] string path,
        CancellationToken cancellationToken = default) =>
        Guard("read_file", path, () => ReadFile(path, cancellationToken));

    [KernelFunction("write_file"), Description("Create or replace a text file of the workspace (atomically; missing folders are created). Returns {ok, path, size, created}.")]
    public Task<string> WriteFileAsync(
        [Description("Path of the file, relative to the workspace root, with '/' between folders")] string path,
        [Description("The whole new content of the file, as text")] string content,
        CancellationToken cancellationToken = default) =>
        Guard("write_file", path, () => WriteFile(path, content, cancellationToken));

    [KernelFunction("list_dir"), Description("List a folder of the workspace. Returns {ok, path, entries:[{name, type, size}], truncated}.")]
    public Task<string> ListDirAsync(
        [Description("Path of the folder, relative to the workspace root; '.' is the root")] string path = ".",
        CancellationToken cancellationToken = default) =>
        Guard("list_dir", path, () => ListDir(path, cancellationToken));

    [KernelFunction("open_file"), Description("Ask the user's browser to show a file of the workspace. Returns {ok, path, requested}.")]
    public Task<string> OpenFileAsync(
        [Description("Path of the file, relative to the workspace root")] string path,
        CancellationToken cancellationToken = default) =>
        Guard("open_file", path, () => OpenFile(path, cancellationToken));

    private Task<string> Guard(string function, string path, Func<string> body)
    {
        try
        {
            return Task.FromResult(body());
        }
        catch (ToolFailureException failure)
        {
            Refused(function, path, failure.Code);
            return Task.FromResult(failure.ToJson());
        }
        catch (UnauthorizedAccessException exception)
        {
            Refused(function, path, ToolErrorCodes.PermissionDenied);
            return Task.FromResult(ToolResult.Error(ToolErrorCodes.PermissionDenied, $"'{path}': permission denied ({exception.Message})"));
        }
        catch (IOException exception) when (exception is not FileNotFoundException and not DirectoryNotFoundException)
        {
            Refused(function, path, ToolErrorCodes.IoError);
            return Task.FromResult(ToolResult.Error(ToolErrorCodes.IoError, $"'{path}': {exception.Message}"));
        }
    }

    private void Refused(string function, string? path, string code)
    {
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var printable = Printable(path);
            FilesLog.Refused(_logger, function, printable, _root.FullPath, code);
        }
    }

    private static string Printable(string? path) =>
        path is null ? "(null)" : new string([.. path.Select(c => char.IsControl(c) ? '?' : c)]);

    private string ReadFile(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var resolved = RequireFile(path);
        if (resolved.Status.Size > _options.MaxFileBytes)
        {
            throw TooLarge(path, resolved.Status.Size);
        }

        using var handle = UnixFile.OpenReadNoFollow(resolved.FullPath, out var errno);
        if (handle.IsInvalid)
        {
            throw errno switch
            {
                UnixFile.EACCES or UnixFile.EPERM => new ToolFailureException(ToolErrorCodes.PermissionDenied, $"'{path}': permission denied"),
                UnixFile.ENOENT => new ToolFailureException(ToolErrorCodes.NotFound, $"'{path}' does not exist"),
                _ => new ToolFailureException(ToolErrorCodes.IoError, $"'{path}' could not be opened (error {errno}); it may have changed, try again"),
            };
        }

        // The file opened must be the one checked: a swap between lstat and open (to a FIFO, a device, a link) fails.
        var opened = UnixFile.FStat(handle);
        if (opened.Kind != UnixFileKind.Regular || opened.Inode != resolved.Status.Inode || opened.Device != resolved.Status.Device)
        {
            throw new ToolFailureException(ToolErrorCodes.IoError, $"'{path}' changed while it was being read; try again");
        }

        // Read at most one byte past the cap: a file that grew since the check is still refused, never read whole.
        var cap = (int)Math.Min(_options.MaxFileBytes + 1, Math.Max(opened.Size + 1, 1));
        var buffer = ArrayPool<byte>.Shared.Rent(cap);
        try
        {
            var length = 0;
            while (length < cap)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(length, cap - length), length);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length == cap && length <= _options.MaxFileBytes)
                {
                    // It grew past what fstat said: read on, up to the cap.
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(_options.MaxFileBytes + 1, (long)cap * 2));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                    cap = (int)Math.Min(_options.MaxFileBytes + 1, bigger.Length);
                }
            }

            if (length > _options.MaxFileBytes)
            {
                throw TooLarge(path, length);
            }

            if (buffer.AsSpan(0, Math.Min(length, BinaryProbeBytes)).Contains((byte)0))
            {
                throw new ToolFailureException(ToolErrorCodes.Binary, $"'{path}' is a binary file (it has NUL bytes): not read as text");
            }

            return ReadResultJson(resolved.RelativePath, buffer, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The read result, written from the file's UTF-8 bytes straight into the JSON string (<see cref="JsonText"/>).
    /// Invalid UTF-8 takes the slow path, which substitutes U+FFFD.
    /// </summary>
    private static string ReadResultJson(string path, byte[] buffer, int length)
    {
        var content = buffer.AsMemory(0, length);
        if (!Utf8.IsValid(content.Span))
        {
            return ToolResult.Serialize(new ReadResult(true, path, length, Encoding.UTF8.GetString(content.Span)));
        }

        var prefix = string.Create(CultureInfo.InvariantCulture,
            $"{{\"ok\":true,\"path\":{JsonSerializer.Serialize(path, ToolResult.Json)},\"size\":{length},\"content\":");
        return JsonText.Quote(prefix, content, "}");
    }

    private ToolFailureException TooLarge(string path, long size) =>
        new(ToolErrorCodes.TooLarge, $"'{path}' has {size} bytes, more than the {_options.MaxFileBytes} the file tools handle");

    private ResolvedPath RequireFile(string path)
    {
        var resolved = _root.Resolve(path);
        return resolved.Status.Kind switch
        {
            UnixFileKind.Regular => resolved,
            UnixFileKind.Missing => throw new ToolFailureException(ToolErrorCodes.NotFound, $"'{path}' does not exist"),
            UnixFileKind.Directory => throw new ToolFailureException(ToolErrorCodes.NotAFile, $"'{path}' is a folder, not a file (list it with list_dir)"),
            var kind => throw new ToolFailureException(ToolErrorCodes.NotAFile, $"'{path}' is a {Describe(kind)}, not a regular file"),
        };
    }

    private static string Describe(UnixFileKind kind) => kind switch
    {
        UnixFileKind.Fifo => "FIFO (named pipe)",
        UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice => "device",
        UnixFileKind.Socket => "socket",
        UnixFileKind.SymbolicLink => "symbolic link",
        UnixFileKind.Directory => "folder",
        _ => "file",
    };

    private string WriteFile(string path, string content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        cancellationToken.ThrowIfCancellationRequested();
        var bytes = Encoding.UTF8.GetBytes(content);
        if (bytes.Length > _options.MaxFileBytes)
        {
            throw new ToolFailureException(ToolErrorCodes.TooLarge, $"the content has {bytes.Length} bytes, more than the {_options.MaxFileBytes} the file tools handle");
        }

        var resolved = _root.Resolve(path);
        if (resolved.RelativePath == ".")
        {
            throw new ToolFailureException(ToolErrorCodes.NotAFile, $"'{path}' is the workspace folder itself, not a file");
        }

        if (resolved.Exists && resolved.Status.Kind != UnixFileKind.Regular)
        {
            throw new ToolFailureException(ToolErrorCodes.NotAFile, $"'{path}' is a {Describe(resolved.Status.Kind)}, not a regular file: not replaced");
        }

        // Every existing component is a real folder inside the root (Resolve followed the links), so the folders
        // still missing are created inside it too.
        var folder = Path.GetDirectoryName(resolved.FullPath)!;
        Directory.CreateDirectory(folder);

        var temporary = Path.Combine(folder, $".artemis-{Guid.NewGuid():N}.tmp");
        try
        {
            // CreateNew is O_CREAT|O_EXCL: it never follows a link planted at the temporary name.
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = resolved.Exists ? File.GetUnixFileMode(resolved.FullPath) : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            }))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            // rename(2) replaces the name atomically; a reader sees the old file or the new one, never half of it.
            File.Move(temporary, resolved.FullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        FilesLog.Wrote(_logger, resolved.RelativePath, bytes.Length, _root.FullPath);
        return ToolResult.Serialize(new WriteResult(true, resolved.RelativePath, bytes.Length, !resolved.Exists));
    }

    private string ListDir(string path, CancellationToken cancellationToken)
    {
        var resolved = _root.Resolve(string.IsNullOrEmpty(path) ? "." : path);
        if (resolved.Status.Kind == UnixFileKind.Missing)
        {
            throw new ToolFailureException(ToolErrorCodes.NotFound, $"'{path}' does not exist");
        }

        if (resolved.Status.Kind != UnixFileKind.Directory)
        {
            throw new ToolFailureException(ToolErrorCodes.NotADirectory, $"'{path}' is a {Describe(resolved.Status.Kind)}, not a folder");
        }

        var entries = new List<DirectoryEntry>();
        var truncated = false;
        foreach (var full in Directory.EnumerateFileSystemEntries(resolved.FullPath).Order(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entries.Count == MaxListEntries)
            {
                truncated = true;
                break;
            }

            UnixFile.LStat(full, out var status);
            var type = status.Kind switch
            {
                UnixFileKind.Regular => "file",
                UnixFileKind.Directory => "directory",
                UnixFileKind.SymbolicLink => "symlink",
                UnixFileKind.Fifo => "fifo",
                UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice => "device",
                UnixFileKind.Socket => "socket",
                _ => "missing",
            };
            entries.Add(new DirectoryEntry(Path.GetFileName(full), type, status.Kind == UnixFileKind.Regular ? status.Size : null));
        }

        return ToolResult.Serialize(new ListResult(true, resolved.RelativePath, entries, truncated));
    }

    private string OpenFile(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var resolved = RequireFile(path);
        _events.Publish(new FileOpenRequest(_root.FullPath, resolved.RelativePath, resolved.FullPath, DateTimeOffset.UtcNow));
        FilesLog.OpenRequested(_logger, resolved.RelativePath, _root.FullPath);
        return ToolResult.Serialize(new OpenResult(true, resolved.RelativePath, true));
    }

    private sealed record ReadResult(bool Ok, string Path, long Size, string Content);

    private sealed record WriteResult(bool Ok, string Path, long Size, bool Created);

    private sealed record DirectoryEntry(string Name, string Type, long? Size);

    private sealed record ListResult(bool Ok, string Path, IReadOnlyList<DirectoryEntry> Entries, bool Truncated);

    private sealed record OpenResult(bool Ok, string Path, bool Requested);
}
