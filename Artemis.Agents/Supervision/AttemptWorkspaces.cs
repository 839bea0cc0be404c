using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Artemis.Agents.Cards;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Supervision;

/// <summary>What an attempt changed, as git sees it against the card's pristine source.</summary>
public sealed record AttemptChanges(string Diff, int DiffLines, bool DiffTruncated, IReadOnlyList<string> ChangedPaths, IReadOnlyList<string> TestPaths)
{
    public bool EditsTests => TestPaths.Count > 0;
}

/// <summary>
/// The folders of a card's work under <c>Artemis:Workspace:Root/cards/&lt;id&gt;</c>: <c>source</c>, a snapshot of the
/// card's workspace taken once (the pristine source the acceptance tests always come from); <c>attempt-N</c>, one
/// developer agent's own copy; <c>eval-N</c>, what the arbiter tests; and <c>git/attempt-N</c>, a git repository
/// <em>outside</em> the agent's folder (the sandbox cannot reach it) whose first commit is the source, so an
/// attempt's changes are exactly <c>git diff</c>. Evaluation trees are written by <c>git checkout-index</c> from
/// git's own objects, never by following paths an agent could have turned into symlinks.
/// </summary>
public sealed class AttemptWorkspaces(IOptions<WorkspaceOptions> workspace, IOptions<SandboxOptions> sandbox)
{
    /// <summary>A stored diff is cut at this size (the attempt's folder keeps everything until the card finishes).</summary>
    public const int MaxDiffBytes = 512 * 1024;

    public const int MaxSourceEntries = 100_000;

    private const string BaseRef = "refs/artemis/base";
    /// <summary>The attempt's last recorded commit: every recording moves HEAD of its own repository.</summary>
    private const string AttemptRef = "HEAD";

    // Written by running things, not by the agent: left out of diffs (unless the source already tracks them).
    private static readonly string[] Noise =
        ["__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", "node_modules/", "bin/", "obj/", ".venv/", "*.egg-info/"];

    private static readonly string[] TestInfrastructureFiles =
        ["conftest.py", "pytest.ini", "tox.ini", "noxfile.py", "setup.cfg", "pyproject.toml", "package.json", "makefile", "gnumakefile",
         ".gitlab-ci.yml", "azure-pipelines.yml", ".travis.yml", "jenkinsfile", "directory.build.props", "directory.build.targets",
         "global.json", "go.mod", "cargo.toml", "pom.xml", "build.gradle", "build.gradle.kts", "run_tests.sh", "runtests.py"];

    private static readonly string[] TestFolders = ["test", "tests", "__tests__", "spec", "specs", "testing", ".github", ".circleci"];

    public string CardFolder(string cardId) => Path.Join(Root, "cards", cardId);

    public string SourcePath(string cardId) => Path.Join(CardFolder(cardId), "source");

    public string AttemptPath(string cardId, int attempt) => Path.Join(CardFolder(cardId), $"attempt-{attempt}");

    public string EvaluationPath(string cardId, int attempt) => Path.Join(CardFolder(cardId), $"eval-{attempt}");

    private string GitDirectory(string cardId, int attempt) => Path.Join(CardFolder(cardId), "git", $"attempt-{attempt}");

    /// <summary>The source's repository: its one commit is every attempt's base, its objects every attempt's too.</summary>
    private string SourceGitDirectory(string cardId) => Path.Join(CardFolder(cardId), "git", "source");

    private string Root => string.IsNullOrWhiteSpace(workspace.Value.Root)
        ? throw new InvalidOperationException("Artemis:Workspace:Root is not set: there is nowhere to make agents' workspaces.")
        : workspace.Value.Root;

    private long QuotaBytes => sandbox.Value.WorkspaceQuotaMb * 1024L * 1024L;

    /// <summary>
    /// Each attempt's changes as recorded when its agent finished, until the arbiter takes them: the same
    /// <c>git diff</c> is not run twice on the same commit. A replica that resumes a card after another has no entry
    /// and runs it.
    /// </summary>
    private readonly ConcurrentDictionary<(string CardId, int Attempt), AttemptChanges> _recorded = new();

    /// <summary>
    /// Takes the snapshot of the card's source once (later calls find it): copied to a temporary folder and renamed
    /// into place, so a snapshot interrupted by a crash is never mistaken for a whole one.
    /// </summary>
    public async Task<string> SnapshotSourceAsync(Card card, CancellationToken cancellationToken)
    {
        var source = SourcePath(card.Id);
        if (!Directory.Exists(source))
        {
            await CopySourceAsync(card, source, cancellationToken);
        }

        await CommitSourceAsync(card.Id, cancellationToken);
        return source;
    }

    private async Task CopySourceAsync(Card card, string source, CancellationToken cancellationToken)
    {

        Directory.CreateDirectory(CardFolder(card.Id));
        var partial = source + ".partial-" + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(partial);
        try
        {
            if (card.WorkspaceKind == CardWorkspace.GitBare)
            {
                var archive = partial + ".tar";
                await Git.RunAsync(["--git-dir", card.Workspace, "archive", "--format=tar", "-o", archive, "HEAD"], CardFolder(card.Id), cancellationToken);
                try
                {
                    await Git.RunProgramAsync("tar", ["-xf", archive, "-C", partial, "--no-same-owner", "--no-same-permissions"], CardFolder(card.Id), cancellationToken);
                }
                finally
                {
                    File.Delete(archive);
                }
            }
            else
            {
                var copied = new CopyBudget(QuotaBytes, MaxSourceEntries, card.Workspace);
                CopyTree(card.Workspace, partial, skipGitFolder: true, copied, cancellationToken);
            }

            Directory.Move(partial, source);
        }
        finally
        {
            if (Directory.Exists(partial))
            {
                Directory.Delete(partial, recursive: true);
            }
        }
    }

    /// <summary>
    /// The source committed once in its own repository (everything in the snapshot, ignored files included: the tests
    /// may need them), with <see cref="BaseRef"/> set last, so a repository without it is one a crash interrupted and is
    /// made again.
    /// </summary>
    private async Task CommitSourceAsync(string cardId, CancellationToken cancellationToken)
    {
        var gitDirectory = SourceGitDirectory(cardId);
        if (File.Exists(Path.Join(gitDirectory, BaseRef)))
        {
            return;
        }

        DeleteIfExists(gitDirectory);
        Directory.CreateDirectory(gitDirectory);
        var source = SourcePath(cardId);
        await Git.RunAsync(["init", "--quiet", "--bare", gitDirectory], CardFolder(cardId), cancellationToken);
        var git = Git.For(gitDirectory, source);
        await Git.RunAsync([.. git, "add", "--all", "--force", "."], source, cancellationToken);
        await Git.RunAsync([.. git, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "source"], source, cancellationToken);
        await Git.RunAsync([.. git, "update-ref", BaseRef, "HEAD"], source, cancellationToken);
    }

    /// <summary>
    /// A fresh copy of the source for attempt <paramref name="attempt"/> (any earlier one is thrown away) and its
    /// repository, whose HEAD and <see cref="BaseRef"/> are the source's commit.
    /// </summary>
    /// <remarks>
    /// The repository is written as files, not made by git: a bare repository's layout (HEAD, config, refs, objects)
    /// with the source repository's objects as its alternate. Four git processes per attempt (init, add, commit,
    /// update-ref) cost ~45 ms of CPU each time on a small machine, for a commit that is the same for every attempt.
    /// </remarks>
    public async Task<string> PrepareAttemptAsync(string cardId, int attempt, CancellationToken cancellationToken)
    {
        var folder = AttemptPath(cardId, attempt);
        var gitDirectory = GitDirectory(cardId, attempt);
        _recorded.TryRemove((cardId, attempt), out _);
        DeleteIfExists(folder);
        DeleteIfExists(gitDirectory);
        CopyTree(SourcePath(cardId), folder, skipGitFolder: false, new CopyBudget(long.MaxValue, int.MaxValue, SourcePath(cardId)), cancellationToken);

        var sourceGit = SourceGitDirectory(cardId);
        var baseCommit = (await File.ReadAllTextAsync(Path.Join(sourceGit, BaseRef), cancellationToken)).Trim();
        Directory.CreateDirectory(Path.Join(gitDirectory, "objects", "info"));
        Directory.CreateDirectory(Path.Join(gitDirectory, "refs", "heads"));
        Directory.CreateDirectory(Path.Join(gitDirectory, "refs", "artemis"));
        Directory.CreateDirectory(Path.Join(gitDirectory, "info"));
        await File.WriteAllTextAsync(Path.Join(gitDirectory, "config"), "[core]\n\trepositoryformatversion = 0\n\tbare = true\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Join(gitDirectory, "objects", "info", "alternates"), Path.GetFullPath(Path.Join(sourceGit, "objects")) + "\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Join(gitDirectory, "refs", "heads", "attempt"), baseCommit + "\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Join(gitDirectory, BaseRef), baseCommit + "\n", cancellationToken);
        await File.WriteAllLinesAsync(Path.Join(gitDirectory, "info", "exclude"), Noise, cancellationToken);
        // HEAD last: a folder without it is no repository, so a half-written one is never used.
        await File.WriteAllTextAsync(Path.Join(gitDirectory, "HEAD"), "ref: refs/heads/attempt\n", cancellationToken);
        return folder;
    }

    /// <summary>
    /// The attempt's diff against the source. With <paramref name="record"/> (when the agent has finished) what its
    /// folder holds is committed first; without, the last recorded commit is read (the arbiter, later).
    /// </summary>
    public async Task<AttemptChanges> ChangesAsync(string cardId, int attempt, string testCommand, CancellationToken cancellationToken, bool record = true)
    {
        var folder = AttemptPath(cardId, attempt);
        var git = Git.For(GitDirectory(cardId, attempt), folder);
        if (!record && _recorded.TryRemove((cardId, attempt), out var recorded))
        {
            return recorded;
        }

        if (record)
        {
            await Git.RunAsync([.. git, "add", "--all", "."], folder, cancellationToken);
            await Git.RunAsync([.. git, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", $"attempt {attempt}"], folder, cancellationToken);
        }

        // One git process for both: "added<TAB>deleted<TAB>path<NUL>" per file ("-" for binary files), an empty entry,
        // then the patch.
        var output = await Git.RunAsync([.. git, "diff", "--no-color", "--no-ext-diff", "--no-renames", "--numstat", "-z", "--patch", BaseRef, AttemptRef], folder, cancellationToken);
        var end = output.IndexOf("\0\0", StringComparison.Ordinal);
        var numbers = end < 0 ? output : output[..end];
        var diff = end < 0 ? "" : output[(end + 2)..];
        var changed = new List<string>();
        var lines = 0;
        foreach (var entry in numbers.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = entry.Split('\t', 3);
            if (fields.Length < 3)
            {
                continue;
            }

            changed.Add(fields[2]);
            lines += (int.TryParse(fields[0], out var added) ? added : 1) + (int.TryParse(fields[1], out var removed) ? removed : 0);
        }

        var truncated = Encoding.UTF8.GetByteCount(diff) > MaxDiffBytes;
        if (truncated)
        {
            diff = diff[..Math.Min(diff.Length, MaxDiffBytes)] + $"\n… (diff cut at {MaxDiffBytes / 1024} KiB; {lines} lines changed in all)\n";
        }

        var commandFiles = CommandFiles(testCommand, SourcePath(cardId));
        var tests = changed.Where(path => IsTestPath(path, commandFiles)).ToList();
        var changes = new AttemptChanges(diff, lines, truncated, changed, tests);
        if (record)
        {
            _recorded[(cardId, attempt)] = changes;
        }

        return changes;
    }

    /// <summary>
    /// The tree the arbiter tests: the attempt's files, except that every test and test-infrastructure file is the
    /// source's (a test the attempt added is dropped, one it deleted is back). Written from git's objects. With
    /// <paramref name="again"/> (the second run of a pass) the index made for the first run is written out again.
    /// </summary>
    public async Task<string> PrepareEvaluationAsync(string cardId, int attempt, AttemptChanges changes, CancellationToken cancellationToken, bool again = false)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var folder = EvaluationPath(cardId, attempt);
        var gitDirectory = GitDirectory(cardId, attempt);
        DeleteIfExists(folder);
        // Kept in the attempt's repository (outside every folder the sandbox sees) for the second run.
        var index = Path.Join(gitDirectory, "evaluation-index");
        var environment = new Dictionary<string, string> { ["GIT_INDEX_FILE"] = index };
        // The empty evaluation folder is the work tree of these index operations; only checkout-index writes to it.
        Directory.CreateDirectory(folder);
        var git = Git.For(gitDirectory, folder);
        if (!again || !File.Exists(index))
        {
            File.Delete(index);
            await Git.RunAsync([.. git, "read-tree", AttemptRef], folder, cancellationToken, environment);
            foreach (var path in changes.TestPaths)
            {
                var entry = await Git.RunAsync([.. git, "ls-tree", "-z", BaseRef, "--", path], folder, cancellationToken);
                // Not in the source, or a folder there (whose files are changed paths of their own): out of the index.
                if (string.IsNullOrEmpty(entry) || entry.Split('\t', 2)[0].Split(' ')[1] != "blob")
                {
                    await Git.RunAsync([.. git, "update-index", "--force-remove", "--", path], folder, cancellationToken, environment);
                }
                else
                {
                    // "<mode> blob <sha>\t<path>\0"
                    var fields = entry.TrimEnd('\0').Split('\t', 2)[0].Split(' ');
                    await Git.RunAsync([.. git, "update-index", "--add", "--replace", "--cacheinfo", $"{fields[0]},{fields[2]},{path}"], folder, cancellationToken, environment);
                }
            }
        }

        await Git.RunAsync([.. git, "checkout-index", "--all", "--force"], folder, cancellationToken, environment);
        return folder;
    }

    /// <summary>Removes everything of a finished card: its diffs and results are in Postgres.</summary>
    public void Delete(string cardId)
    {
        foreach (var key in _recorded.Keys.Where(key => key.CardId == cardId))
        {
            _recorded.TryRemove(key, out _);
        }

        DeleteIfExists(CardFolder(cardId));
    }

    public void DeleteEvaluation(string cardId, int attempt) => DeleteIfExists(EvaluationPath(cardId, attempt));

    /// <summary>
    /// Whether a changed path is a test or test infrastructure: in a test folder, named like a test, a runner's or
    /// CI's configuration, or a file the test command names.
    /// </summary>
    public static bool IsTestPath(string path, IReadOnlySet<string> commandFiles)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (commandFiles.Contains(path))
        {
            return true;
        }

        var parts = path.Split('/');
        if (parts[..^1].Any(folder => TestFolders.Contains(folder.ToLowerInvariant()) || folder.EndsWith(".Tests", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        var name = parts[^1].ToLowerInvariant();
        var stem = Path.GetFileNameWithoutExtension(name);
        // A test folder itself (made a file or a symlink by the attempt) counts as much as what is inside it.
        return TestInfrastructureFiles.Contains(name) || TestFolders.Contains(name)
            || name.StartsWith("test_", StringComparison.Ordinal) || name.StartsWith("test.", StringComparison.Ordinal)
            || stem.EndsWith("_test", StringComparison.Ordinal) || stem.EndsWith("_tests", StringComparison.Ordinal)
            || stem.EndsWith(".test", StringComparison.Ordinal) || stem.EndsWith(".spec", StringComparison.Ordinal)
            || stem.EndsWith("tests", StringComparison.Ordinal) && parts[^1].Contains("Tests", StringComparison.Ordinal)
            || stem.EndsWith("test", StringComparison.Ordinal) && parts[^1].Contains("Test", StringComparison.Ordinal)
            || name.StartsWith("jest.config", StringComparison.Ordinal) || name.StartsWith("vitest.config", StringComparison.Ordinal)
            || name.StartsWith("karma.conf", StringComparison.Ordinal) || name.StartsWith(".coveragerc", StringComparison.Ordinal);
    }

    /// <summary>The files of the source that the test command names (e.g. <c>bash run.sh</c>): editing them games the tests.</summary>
    public static IReadOnlySet<string> CommandFiles(string testCommand, string source)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (var word in testCommand.Split([' ', '\t', ';', '&', '|', '(', ')', '<', '>'], StringSplitOptions.RemoveEmptyEntries))
        {
            var token = word.Trim('"', '\'');
            if (token.Length == 0 || token.StartsWith('-') || Path.IsPathRooted(token) || token.Contains("..", StringComparison.Ordinal))
            {
                continue;
            }

            var relative = token.StartsWith("./", StringComparison.Ordinal) ? token[2..] : token;
            if (File.Exists(Path.Join(source, relative)))
            {
                files.Add(relative);
            }
        }

        return files;
    }

    private static void DeleteIfExists(string folder)
    {
        if (Directory.Exists(folder))
        {
            // Sandbox jobs may have left read-only folders behind; the service runs as root and deletes them anyway,
            // and never follows a link (Directory.Delete removes links, not their targets).
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Copies a tree: files (with their mode), folders, symlinks as symlinks (never followed), skipping sockets, FIFOs
    /// and devices; refuses a tree over the workspace quota or with too many entries.
    /// </summary>
    private static void CopyTree(string from, string to, bool skipGitFolder, CopyBudget budget, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(to);
        var pending = new Stack<(string From, string To)>();
        pending.Push((from, to));
        while (pending.TryPop(out var folder))
        {
            foreach (var entry in new DirectoryInfo(folder.From).EnumerateFileSystemInfos())
            {
                cancellationToken.ThrowIfCancellationRequested();
                budget.Count(entry);
                var target = Path.Join(folder.To, entry.Name);
                if (entry.LinkTarget is { } link)
                {
                    File.CreateSymbolicLink(target, link);
                }
                else if (entry is DirectoryInfo)
                {
                    if (skipGitFolder && entry.Name == ".git" && folder.From == from)
                    {
                        continue;
                    }

                    Directory.CreateDirectory(target);
                    pending.Push((entry.FullName, target));
                }
                else if (entry is FileInfo file && (file.Attributes & FileAttributes.Device) == 0 && IsRegularFile(file.FullName))
                {
                    file.CopyTo(target);
                    File.SetUnixFileMode(target, File.GetUnixFileMode(file.FullName));
                }
            }
        }
    }

    private static bool IsRegularFile(string path) =>
        UnixFile.LStat(path, out var status) == 0 && status.Kind == UnixFileKind.Regular;

    private sealed class CopyBudget(long maxBytes, int maxEntries, string source)
    {
        private long _bytes;
        private int _entries;

        public void Count(FileSystemInfo entry)
        {
            if (++_entries > maxEntries)
            {
                throw new WorkspaceTooLargeException($"the workspace '{source}' has more than {maxEntries} files and folders");
            }

            if (entry is FileInfo file && entry.LinkTarget is null && (_bytes += file.Length) > maxBytes)
            {
                throw new WorkspaceTooLargeException(
                    $"the workspace '{source}' is larger than the sandbox's workspace quota ({maxBytes / (1024 * 1024)} MiB, Artemis:Sandbox:WorkspaceQuotaMb)");
            }
        }
    }
}

/// <summary>A card's source cannot be copied for its agents; the card fails with this reason.</summary>
public sealed class WorkspaceTooLargeException(string message) : Exception(message);

/// <summary>Runs git (and tar) with no user or system configuration, no hooks, no prompts.</summary>
internal static class Git
{
    private static readonly string[] Configuration =
        ["-c", "safe.directory=*", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.autocrlf=false",
         "-c", "core.quotePath=off", "-c", "user.name=Artemis", "-c", "user.email=artemis@localhost", "-c", "commit.gpgSign=false",
         "-c", "gc.auto=0", "-c", "core.symlinks=true"];

    public static string[] For(string gitDirectory, string workTree) => ["--git-dir", gitDirectory, "--work-tree", workTree];

    public static Task<string> RunAsync(IReadOnlyList<string> arguments, string workingDirectory, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null) =>
        RunProgramAsync("git", [.. Configuration, .. arguments], workingDirectory, cancellationToken, environment);

    public static async Task<string> RunProgramAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        start.Environment["HOME"] = workingDirectory;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var stdout = await output;
        var stderr = await error;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(" ", arguments.Where(a => !a.Contains('=', StringComparison.Ordinal) && a != "-c").Take(8))} failed ({process.ExitCode}): {stderr.Trim()}");
        }

        return stdout;
    }
}
