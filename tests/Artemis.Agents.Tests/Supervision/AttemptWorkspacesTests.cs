using Artemis.Agents.Cards;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Supervision;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Tests.Supervision;

/// <summary>
/// The folders of a card's work against hostile sources and attempts: special files, links out, oversized trees, an
/// attempt that swaps the tests for a symlink or deletes them. The arbiter's tree always has the source's tests.
/// </summary>
public sealed class AttemptWorkspacesTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("artemis-attempts-");

    private string Root => Path.Combine(_scratch.FullName, "root");

    public void Dispose() => _scratch.Delete(recursive: true);

    private AttemptWorkspaces Workspaces(int quotaMb = 512)
    {
        Directory.CreateDirectory(Root);
        return new AttemptWorkspaces(Options.Create(new WorkspaceOptions { Root = Root }), Options.Create(new SandboxOptions { WorkspaceQuotaMb = quotaMb }));
    }

    private string Source(Action<string> fill)
    {
        var folder = Path.Combine(_scratch.FullName, "source-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        fill(folder);
        return folder;
    }

    private static Card CardOn(string workspace, string kind = CardWorkspace.Folder) =>
        new("c" + Guid.NewGuid().ToString("N")[..11], "t", "", workspace, kind, "python3 -m unittest", null, CardStage.Developing,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null, null, null, null, null);

    [Fact]
    public async Task The_snapshot_keeps_files_and_links_as_links_and_leaves_out_fifos_and_the_git_folder()
    {
        var source = Source(folder =>
        {
            File.WriteAllText(Path.Combine(folder, "app.py"), "print('hi')\n");
            File.SetUnixFileMode(Path.Combine(folder, "app.py"), (UnixFileMode)0b111_101_101);
            File.CreateSymbolicLink(Path.Combine(folder, "passwd"), "/etc/passwd");
            Directory.CreateDirectory(Path.Combine(folder, ".git", "objects"));
            Directory.CreateDirectory(Path.Combine(folder, "lib", ".git"));
        });
        await Run("mkfifo", Path.Combine(source, "pipe"));
        var card = CardOn(source);

        var snapshot = await Workspaces().SnapshotSourceAsync(card, CancellationToken.None);

        Assert.Equal("print('hi')\n", File.ReadAllText(Path.Combine(snapshot, "app.py")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(snapshot, "app.py")));
        Assert.Equal("/etc/passwd", new FileInfo(Path.Combine(snapshot, "passwd")).LinkTarget);
        Assert.False(Directory.Exists(Path.Combine(snapshot, ".git")), "the source's repository is not the agents'");
        Assert.True(Directory.Exists(Path.Combine(snapshot, "lib", ".git")), "only the top .git is left out");
        Assert.False(Path.Exists(Path.Combine(snapshot, "pipe")), "a FIFO would hang whoever reads it");
        // Taken once: a second call finds it, even after the source changed.
        File.WriteAllText(Path.Combine(source, "app.py"), "changed");
        Assert.Equal(snapshot, await Workspaces().SnapshotSourceAsync(card, CancellationToken.None));
        Assert.Equal("print('hi')\n", File.ReadAllText(Path.Combine(snapshot, "app.py")));
    }

    [Fact]
    public async Task A_source_over_the_workspace_quota_is_refused_and_leaves_no_partial_snapshot()
    {
        var source = Source(folder => File.WriteAllBytes(Path.Combine(folder, "big.bin"), new byte[2 * 1024 * 1024]));
        var card = CardOn(source);
        var workspaces = Workspaces(quotaMb: 1);

        var refused = await Assert.ThrowsAsync<WorkspaceTooLargeException>(() => workspaces.SnapshotSourceAsync(card, CancellationToken.None));

        Assert.Contains("Artemis:Sandbox:WorkspaceQuotaMb", refused.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(workspaces.CardFolder(card.Id)));
    }

    [Fact]
    public async Task A_bare_repository_is_snapshotted_from_its_HEAD()
    {
        var work = Source(folder => File.WriteAllText(Path.Combine(folder, "a.txt"), "committed\n"));
        await Run("git", "-C", work, "init", "-q");
        await Run("git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A");
        await Run("git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one");
        var bare = Path.Combine(_scratch.FullName, "bare.git");
        await Run("git", "clone", "-q", "--bare", work, bare);
        var card = CardOn(bare, CardWorkspace.GitBare);

        var snapshot = await Workspaces().SnapshotSourceAsync(card, CancellationToken.None);

        Assert.Equal("committed\n", File.ReadAllText(Path.Combine(snapshot, "a.txt")));
    }

    [Fact]
    public async Task An_attempt_that_swaps_its_tests_for_a_link_outside_is_flagged_and_evaluated_on_the_source_s_tests()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_scratch.FullName, "outside")).FullName;
        var source = Source(folder =>
        {
            File.WriteAllText(Path.Combine(folder, "calc.py"), "def add(a, b):\n    return a - b\n");
            Directory.CreateDirectory(Path.Combine(folder, "tests"));
            File.WriteAllText(Path.Combine(folder, "tests", "test_calc.py"), "assert add(1, 1) == 2\n");
            File.WriteAllText(Path.Combine(folder, "conftest.py"), "# original\n");
        });
        var card = CardOn(source);
        var workspaces = Workspaces();
        await workspaces.SnapshotSourceAsync(card, CancellationToken.None);
        var attempt = await workspaces.PrepareAttemptAsync(card.Id, 1, CancellationToken.None);

        // The agent: fixes nothing, replaces tests/ by a link to a folder outside, rewrites conftest.py, adds a test.
        File.WriteAllText(Path.Combine(attempt, "calc.py"), "def add(a, b):\n    return a + b\n");
        Directory.Delete(Path.Combine(attempt, "tests"), recursive: true);
        File.CreateSymbolicLink(Path.Combine(attempt, "tests"), outside);
        File.WriteAllText(Path.Combine(attempt, "conftest.py"), "import sys; sys.exit(0)\n");
        File.WriteAllText(Path.Combine(attempt, "test_extra.py"), "pass\n");
        Directory.CreateDirectory(Path.Combine(attempt, "__pycache__"));
        File.WriteAllText(Path.Combine(attempt, "__pycache__", "calc.cpython-311.pyc"), "noise");

        var changes = await workspaces.ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None);

        Assert.True(changes.EditsTests);
        Assert.Equal(["conftest.py", "test_extra.py", "tests", "tests/test_calc.py"], changes.TestPaths.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(changes.ChangedPaths, path => path.Contains("__pycache__", StringComparison.Ordinal));
        Assert.Contains("+    return a + b", changes.Diff, StringComparison.Ordinal);

        var evaluation = await workspaces.PrepareEvaluationAsync(card.Id, 1, changes, CancellationToken.None);

        Assert.Equal("def add(a, b):\n    return a + b\n", File.ReadAllText(Path.Combine(evaluation, "calc.py")));
        Assert.Null(new DirectoryInfo(Path.Combine(evaluation, "tests")).LinkTarget);
        Assert.Equal("assert add(1, 1) == 2\n", File.ReadAllText(Path.Combine(evaluation, "tests", "test_calc.py")));
        Assert.Equal("# original\n", File.ReadAllText(Path.Combine(evaluation, "conftest.py")));
        Assert.False(File.Exists(Path.Combine(evaluation, "test_extra.py")), "a test the attempt added is not the card's");
        Assert.Empty(Directory.GetFileSystemEntries(outside));

        // The first run spoils its tree (a test edited, a file deleted, junk left); the second run's tree is the same
        // fresh tree, written again from the index made for the first.
        File.WriteAllText(Path.Combine(evaluation, "tests", "test_calc.py"), "pass\n");
        File.Delete(Path.Combine(evaluation, "calc.py"));
        File.WriteAllText(Path.Combine(evaluation, "junk.txt"), "left by the first run\n");
        workspaces.DeleteEvaluation(card.Id, 1);
        var second = await workspaces.PrepareEvaluationAsync(card.Id, 1, changes, CancellationToken.None, again: true);

        Assert.Equal(evaluation, second);
        Assert.Equal("def add(a, b):\n    return a + b\n", File.ReadAllText(Path.Combine(second, "calc.py")));
        Assert.Equal("assert add(1, 1) == 2\n", File.ReadAllText(Path.Combine(second, "tests", "test_calc.py")));
        Assert.Equal("# original\n", File.ReadAllText(Path.Combine(second, "conftest.py")));
        Assert.False(File.Exists(Path.Combine(second, "junk.txt")));
        Assert.False(File.Exists(Path.Combine(second, "test_extra.py")));
    }

    [Fact]
    public async Task The_arbiter_takes_the_changes_recorded_when_the_agent_finished_and_a_resumed_one_reads_the_recorded_commit()
    {
        var source = Source(folder => File.WriteAllText(Path.Combine(folder, "a.txt"), "source\n"));
        var card = CardOn(source);
        var workspaces = Workspaces();
        await workspaces.SnapshotSourceAsync(card, CancellationToken.None);
        var attempt = await workspaces.PrepareAttemptAsync(card.Id, 1, CancellationToken.None);
        File.WriteAllText(Path.Combine(attempt, "a.txt"), "done\n");
        var recorded = await workspaces.ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None);
        // Written after the recording: never part of the attempt.
        File.WriteAllText(Path.Combine(attempt, "late.txt"), "after the end\n");

        var taken = await workspaces.ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None, record: false);
        // Taken once: later (another replica resuming the card) the recorded commit is read again, to the same result.
        var resumed = await workspaces.ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None, record: false);
        var fresh = await Workspaces().ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None, record: false);

        Assert.Same(recorded, taken);
        Assert.NotSame(recorded, resumed);
        foreach (var read in new[] { resumed, fresh })
        {
            Assert.Equal(recorded.Diff, read.Diff);
            Assert.Equal(["a.txt"], read.ChangedPaths);
            Assert.Equal(2, read.DiffLines);
        }
    }

    [Fact]
    public async Task An_attempt_started_again_gets_a_fresh_copy_of_the_source()
    {
        var source = Source(folder => File.WriteAllText(Path.Combine(folder, "a.txt"), "source\n"));
        var card = CardOn(source);
        var workspaces = Workspaces();
        await workspaces.SnapshotSourceAsync(card, CancellationToken.None);
        var first = await workspaces.PrepareAttemptAsync(card.Id, 1, CancellationToken.None);
        File.WriteAllText(Path.Combine(first, "a.txt"), "half-done\n");
        File.WriteAllText(Path.Combine(first, "b.txt"), "left over\n");

        var again = await workspaces.PrepareAttemptAsync(card.Id, 1, CancellationToken.None);
        var changes = await workspaces.ChangesAsync(card.Id, 1, card.TestCommand, CancellationToken.None);

        Assert.Equal("source\n", File.ReadAllText(Path.Combine(again, "a.txt")));
        Assert.False(File.Exists(Path.Combine(again, "b.txt")));
        Assert.Empty(changes.ChangedPaths);
        Assert.Equal(0, changes.DiffLines);
    }

    private static async Task Run(string program, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
    }
}
