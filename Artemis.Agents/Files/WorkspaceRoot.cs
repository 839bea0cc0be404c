using System.Text;

namespace Artemis.Agents.Files;

/// <summary>A path inside the workspace after every component was resolved; <see cref="Status"/> is Missing when it does not exist.</summary>
public readonly record struct ResolvedPath(string FullPath, string RelativePath, UnixFileStatus Status, string? MissingFrom)
{
    public bool Exists => Status.Kind != UnixFileKind.Missing;
}

/// <summary>
/// Confines paths to one workspace folder. Every component is lstat'ed and symbolic links are followed here, one hop
/// at a time, so the decision is made on the real path, compared to the real root component by component: a string
/// prefix test would let <c>/ws/app-evil</c> pass for <c>/ws/app</c>, and the kernel's own resolution would follow a
/// link out. Refusals are <see cref="ToolFailureException"/>s with stable codes (ADR 006).
/// </summary>
public sealed class WorkspaceRoot
{
    /// <summary>Linux's own limit (MAXSYMLINKS); a loop ends here instead of spinning.</summary>
    public const int MaxSymlinkHops = 40;
    public const int NameMax = 255;
    public const int PathMax = 4096;

    private readonly string[] _root;

    public WorkspaceRoot(string root)
    {
        if (!Path.IsPathFullyQualified(root))
        {
            throw new ArgumentException($"The workspace root must be an absolute path, was '{root}'", nameof(root));
        }

        // The root itself may sit behind symlinks (/tmp → /private/tmp); its real path is the reference.
        var info = new DirectoryInfo(root);
        if (!info.Exists)
        {
            throw new DirectoryNotFoundException($"The workspace root '{root}' does not exist");
        }

        FullPath = RealPath(info.FullName);
        _root = FullPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The real path of the root: no symlink in it.</summary>
    public string FullPath { get; }

    private static string RealPath(string path)
    {
        var current = "/";
        foreach (var component in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, component);
            var target = new DirectoryInfo(next).ResolveLinkTarget(returnFinalTarget: true);
            current = target?.FullName ?? next;
        }

        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(current)) is { Length: > 0 } full ? full : "/";
    }

    /// <summary>Resolves <paramref name="path"/> (relative to the root, or absolute inside it) or throws a <see cref="ToolFailureException"/>.</summary>
    public ResolvedPath Resolve(string? path)
    {
        var components = Validate(path);
        var current = new List<string>(_root);
        var pending = new Stack<string>();
        if (path![0] == '/')
        {
            // An absolute path is accepted only when it names the real root's own components first.
            if (components.Length < _root.Length || !_root.AsSpan().SequenceEqual(components.AsSpan(0, _root.Length)))
            {
                throw Outside(path);
            }

            components = components[_root.Length..];
        }

        for (var i = components.Length - 1; i >= 0; i--)
        {
            pending.Push(components[i]);
        }

        var status = new UnixFileStatus(UnixFileKind.Directory, 0, 0, 0, 0);
        string? missingFrom = null;
        var hops = 0;
        while (pending.TryPop(out var component))
        {
            if (component == ".")
            {
                continue;
            }

            if (component == "..")
            {
                if (current.Count == _root.Length)
                {
                    throw Outside(path);
                }

                if (missingFrom is not null)
                {
                    // The kernel fails "missing/.." with ENOENT too: nothing below a missing folder exists.
                    throw new ToolFailureException(ToolErrorCodes.NotFound, $"'{path}' does not exist ('{missingFrom}' is missing)");
                }

                current.RemoveAt(current.Count - 1);
                continue;
            }

            if (missingFrom is not null)
            {
                current.Add(component);
                continue;
            }

            var candidate = Join(current, component);
            var errno = UnixFile.LStat(candidate, out status);
            if (errno != 0)
            {
                throw FromErrno(errno, path);
            }

            switch (status.Kind)
            {
                case UnixFileKind.Missing:
                    missingFrom = Relative(current, component);
                    current.Add(component);
                    break;

                case UnixFileKind.SymbolicLink:
                    if (++hops > MaxSymlinkHops)
                    {
                        throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"'{path}' goes through more than {MaxSymlinkHops} symbolic links (a loop?)");
                    }

                    var target = new FileInfo(candidate).LinkTarget ?? "";
                    if (target.Length == 0)
                    {
                        throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"'{path}' goes through an empty symbolic link");
                    }

                    var targetComponents = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
                    if (target[0] == '/')
                    {
                        if (targetComponents.Length < _root.Length || !_root.AsSpan().SequenceEqual(targetComponents.AsSpan(0, _root.Length)))
                        {
                            throw Outside(path);
                        }

                        current = new List<string>(_root);
                        targetComponents = targetComponents[_root.Length..];
                    }

                    for (var i = targetComponents.Length - 1; i >= 0; i--)
                    {
                        pending.Push(targetComponents[i]);
                    }

                    break;

                case UnixFileKind.Directory:
                    current.Add(component);
                    break;

                default:
                    if (pending.Count > 0)
                    {
                        throw new ToolFailureException(ToolErrorCodes.NotADirectory, $"'{Relative(current, component)}' is a file, not a folder");
                    }

                    current.Add(component);
                    break;
            }
        }

        if (missingFrom is not null)
        {
            status = new UnixFileStatus(UnixFileKind.Missing, 0, 0, 0, 0);
        }

        return new ResolvedPath("/" + string.Join('/', current), Relative(current, null), status, missingFrom);
    }

    private string Relative(List<string> current, string? last)
    {
        var parts = current.Skip(_root.Length).Concat(last is null ? [] : [last]).ToArray();
        return parts.Length == 0 ? "." : string.Join('/', parts);
    }

    private static string Join(List<string> current, string component) => "/" + string.Join('/', current.Append(component));

    private static ToolFailureException Outside(string path) =>
        new(ToolErrorCodes.OutsideWorkspace, $"'{path}' is outside the workspace: only paths inside it can be used");

    private static ToolFailureException FromErrno(int errno, string path) => errno switch
    {
        UnixFile.EACCES or UnixFile.EPERM => new ToolFailureException(ToolErrorCodes.PermissionDenied, $"'{path}': permission denied"),
        UnixFile.ENAMETOOLONG => new ToolFailureException(ToolErrorCodes.InvalidPath, $"'{path}' is too long for the file system"),
        UnixFile.ENOTDIR => new ToolFailureException(ToolErrorCodes.NotADirectory, $"'{path}': a component is not a folder"),
        UnixFile.ELOOP => new ToolFailureException(ToolErrorCodes.InvalidPath, $"'{path}' goes through too many symbolic links"),
        _ => new ToolFailureException(ToolErrorCodes.IoError, $"'{path}': error {errno}"),
    };

    /// <summary>The checks no file system call should even see: empty, NUL, control characters, backslashes, lengths.</summary>
    private static string[] Validate(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ToolFailureException(ToolErrorCodes.InvalidPath, "the path is empty");
        }

        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '\0')
            {
                throw new ToolFailureException(ToolErrorCodes.InvalidPath, "the path contains a NUL character");
            }

            if (char.IsControl(c))
            {
                throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"the path contains the control character U+{(int)c:X4}");
            }

            if (char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < path.Length && char.IsLowSurrogate(path[i + 1])) && !(char.IsLowSurrogate(c) && i > 0 && char.IsHighSurrogate(path[i - 1])))
            {
                throw new ToolFailureException(ToolErrorCodes.InvalidPath, "the path is not valid Unicode");
            }

            // On Linux '\' is an ordinary character; a model writing Windows paths means '/', so say so rather than
            // create "src\app.py" as one strange name.
            if (c == '\\')
            {
                throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"the path '{path}' contains a backslash: separate folders with '/'");
            }
        }

        if (Encoding.UTF8.GetByteCount(path) >= PathMax)
        {
            throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"the path is longer than {PathMax} bytes");
        }

        var components = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var component in components)
        {
            if (Encoding.UTF8.GetByteCount(component) > NameMax)
            {
                throw new ToolFailureException(ToolErrorCodes.InvalidPath, $"a name in the path is longer than {NameMax} bytes");
            }
        }

        return components;
    }
}
