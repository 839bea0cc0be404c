namespace Artemis.Agents.Cards;

/// <summary>
/// Checks a card's source workspace: an absolute path to an existing directory on the server (a plain folder, a git
/// working tree, or a bare git repository), resolved through every symlink to its real path, and not inside the
/// system's own trees. Agents copy the source, so a card naming <c>/etc</c> or <c>/proc</c> would copy the host.
/// </summary>
public static class CardWorkspace
{
    public const string Folder = "folder";
    public const string Git = "git";
    public const string GitBare = "git-bare";

    public const int MaxPathLength = 4096;

    // Compared by path components of the real path, never by string prefix ("/usr2" is not under "/usr").
    private static readonly string[] SystemTrees =
        ["/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/var/run", "/var/lock"];

    /// <summary>The real path and kind of <paramref name="path"/>, or why it cannot be a workspace.</summary>
    public static (string? RealPath, string? Kind, string? Error) Check(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return Fail("is required: the absolute path of a folder or git repository on the server");
        }

        if (path.Any(char.IsControl))
        {
            return Fail("must not contain control characters");
        }

        if (path.Length > MaxPathLength)
        {
            return Fail($"must be at most {MaxPathLength} characters long");
        }

        if (!Path.IsPathFullyQualified(path))
        {
            return Fail($"must be an absolute path on the server, was '{path}'");
        }

        var real = RealPath(Path.GetFullPath(path));
        if (real is null)
        {
            return Fail($"'{path}' does not exist on the server");
        }

        if (!Directory.Exists(real))
        {
            return Fail($"'{path}' is not a directory: a card's workspace is a folder or a git repository");
        }

        if (real == "/" || SystemTrees.Any(tree => IsSameOrInside(real, tree)))
        {
            return Fail($"'{path}' is (inside) a system directory ({real}); name a project folder");
        }

        try
        {
            using var entries = Directory.EnumerateFileSystemEntries(real).GetEnumerator();
            entries.MoveNext();
        }
        catch (Exception exception) when (exception is UnauthorizedAccessException or IOException)
        {
            return Fail($"'{path}' cannot be read by the service: {exception.Message}");
        }

        return (real, KindOf(real), null);

        static (string?, string?, string?) Fail(string error) => (null, null, error);
    }

    private static string KindOf(string directory)
    {
        // A working tree has .git (a directory, or a file in a linked worktree or submodule); a bare repository
        // has the repository's own layout at its top.
        if (Path.Exists(Path.Join(directory, ".git")))
        {
            return Git;
        }

        return File.Exists(Path.Join(directory, "HEAD"))
            && Directory.Exists(Path.Join(directory, "objects"))
            && Directory.Exists(Path.Join(directory, "refs"))
            ? GitBare
            : Folder;
    }

    /// <summary>
    /// The path with every symlink resolved, component by component (.NET has no realpath); null when a component
    /// does not exist or the links loop.
    /// </summary>
    private static string? RealPath(string fullPath)
    {
        var pending = new Stack<string>(fullPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = "/";
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }

            var next = Path.Join(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++links > 40)
                {
                    return null; // the kernel's own limit (ELOOP)
                }

                if (Path.IsPathRooted(target))
                {
                    current = "/";
                }

                foreach (var targetPart in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(targetPart);
                }

                continue;
            }

            if (!Path.Exists(next))
            {
                return null;
            }

            current = next;
        }

        return current;
    }

    private static bool IsSameOrInside(string path, string tree)
    {
        var pathParts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var treeParts = tree.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return pathParts.Length >= treeParts.Length && treeParts.SequenceEqual(pathParts.Take(treeParts.Length), StringComparer.Ordinal);
    }
}
