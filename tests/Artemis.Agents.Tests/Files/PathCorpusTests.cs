using System.Text.Json;
using Artemis.Agents.Files;

namespace Artemis.Agents.Tests.Files;

/// <summary>
/// The path corpus: every way out of a workspace we know of, and the legitimate paths beside them, each with the
/// exact answer expected. A tool that refused everything would fail the "ok" rows; one that let anything out would
/// fail the others, and the snapshot of everything outside the root proves nothing there was read into a result or written.
/// {root} and {base} stand for the real folders.
/// </summary>
public sealed class PathCorpusTests : IDisposable
{
    private const string Ok = "ok";
    private readonly WorkspaceFixture _workspace = new();

    public static TheoryData<string, string, string> ReadCases => new()
    {
        // Legitimate reads.
        { "read_file", "a.txt", Ok },
        { "read_file", "./a.txt", Ok },
        { "read_file", "dir//b.txt", Ok },
        { "read_file", "dir/./sub/../b.txt", Ok },
        { "read_file", "dir/../a.txt", Ok },
        { "read_file", "dir/sub/c.txt", Ok },
        { "read_file", "empty.txt", Ok },
        { "read_file", "with space.txt", Ok },
        { "read_file", "héllo wörld ✓.txt", Ok },
        { "read_file", "日本語.md", Ok },
        { "read_file", "%2e%2e", Ok },
        { "read_file", "~/notes.txt", Ok },
        { "read_file", "....", Ok },
        { "read_file", new string('n', 255), Ok },
        { "read_file", new string('é', 126) + ".t", Ok },
        { "read_file", "exact.txt", Ok },
        { "read_file", "late-nul.txt", Ok },
        { "read_file", "{root}/a.txt", Ok },
        { "read_file", "{root}/dir/../a.txt", Ok },
        { "read_file", "link-inside", Ok },
        { "read_file", "link-abs-inside", Ok },
        { "read_file", "linkdir-in/b.txt", Ok },
        { "read_file", "c1", Ok },
        { "read_file", "link-to-root/a.txt", Ok },
        { "read_file", "link-to-root/link-to-root/dir/b.txt", Ok },
        { "read_file", "dir/up", Ok },
        { "read_file", "immutable.txt", Ok },

        // Traversal and absolute paths.
        { "read_file", "../outside/secret.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "../../../../etc/passwd", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "dir/../../outside/secret.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "dir/sub/../../../app-evil/x.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "../app/a.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "..", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "/etc/passwd", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "/etc/shadow", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "/", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "/proc/self/environ", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "{base}/app-evil/x.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "{root}-evil/x.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "{root}/../outside/secret.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "{base}/outside/secret.txt", ToolErrorCodes.OutsideWorkspace },

        // Symbolic links out, loops, dangling links.
        { "read_file", "link-out", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-abs-out", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-shadow", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-evil", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-abs-evil", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "linkdir-out/secret.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "linkdir-abs-out/secret.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "linkdir-etc/passwd", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-to-parent/app-evil/x.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-to-parent/app/a.txt", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-dev-null", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "link-proc", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "empty-target-dir/x", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "dangling-out", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "dir/sub/up2", ToolErrorCodes.OutsideWorkspace },
        { "read_file", "loop1", ToolErrorCodes.InvalidPath },
        { "read_file", "selfloop", ToolErrorCodes.InvalidPath },
        { "read_file", "loop1/x", ToolErrorCodes.InvalidPath },
        { "read_file", "dangling", ToolErrorCodes.NotFound },

        // Special files: refused before any open, and a FIFO never blocks.
        { "read_file", "pipe", ToolErrorCodes.NotAFile },
        { "read_file", "null-device", ToolErrorCodes.NotAFile },
        { "read_file", "socket", ToolErrorCodes.NotAFile },
        { "read_file", "dir", ToolErrorCodes.NotAFile },
        { "read_file", ".", ToolErrorCodes.NotAFile },
        { "read_file", "link-to-root", ToolErrorCodes.NotAFile },

        // Size and content.
        { "read_file", "big.txt", ToolErrorCodes.TooLarge },
        { "read_file", "sparse-10g.txt", ToolErrorCodes.TooLarge },
        { "read_file", "bin.dat", ToolErrorCodes.Binary },
        { "read_file", "image.png", ToolErrorCodes.Binary },

        // Malformed names.
        { "read_file", "", ToolErrorCodes.InvalidPath },
        { "read_file", "a.txt\0.png", ToolErrorCodes.InvalidPath },
        { "read_file", "a\nb.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "a\tb.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "a\u007f.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "a\u0085.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "\u001b[31mred.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "..\\outside\\secret.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "dir\\b.txt", ToolErrorCodes.InvalidPath },
        { "read_file", new string('n', 256), ToolErrorCodes.InvalidPath },
        { "read_file", new string('日', 86), ToolErrorCodes.InvalidPath },
        { "read_file", string.Join('/', Enumerable.Repeat("dir", 1400)), ToolErrorCodes.InvalidPath },
        { "read_file", string.Concat(Enumerable.Repeat("./", 2100)) + "a.txt", ToolErrorCodes.InvalidPath },
        { "read_file", "%2e%2e/%2e%2e/etc/passwd", ToolErrorCodes.NotADirectory },
        { "read_file", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", ToolErrorCodes.NotFound },
        { "read_file", "~/.ssh/id_rsa", ToolErrorCodes.NotFound },
        { "read_file", "~root/.bashrc", ToolErrorCodes.NotFound },

        // Missing things.
        { "read_file", "nope.txt", ToolErrorCodes.NotFound },
        { "read_file", "nope/x.txt", ToolErrorCodes.NotFound },
        { "read_file", "nope/../a.txt", ToolErrorCodes.NotFound },
        { "read_file", new string('n', 254) + "x", ToolErrorCodes.NotFound },
        { "read_file", "a.txt/x", ToolErrorCodes.NotADirectory },
        { "read_file", "a.txt/..", ToolErrorCodes.NotADirectory },
    };

    public static TheoryData<string, string, string> OtherCases => new()
    {
        { "write_file", "new.txt", Ok },
        { "write_file", "a.txt", Ok },
        { "write_file", "deep/new/folders/f.txt", Ok },
        { "write_file", "日本語/新しい.txt", Ok },
        { "write_file", "link-inside", Ok },
        { "write_file", "linkdir-in/new.txt", Ok },
        { "write_file", "dangling", Ok },
        { "write_file", "{root}/abs.txt", Ok },
        { "write_file", "%2e%2e%2fescape.txt", Ok },
        { "write_file", "link-out", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "link-abs-out", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "link-evil", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "dangling-out", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "linkdir-out/new.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "linkdir-out/sub/new.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "../outside/new.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "../app-evil/x.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "{base}/app-evil/new.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "/tmp/artemis-escape.txt", ToolErrorCodes.OutsideWorkspace },
        { "write_file", "pipe", ToolErrorCodes.NotAFile },
        { "write_file", "null-device", ToolErrorCodes.NotAFile },
        { "write_file", "dir", ToolErrorCodes.NotAFile },
        { "write_file", ".", ToolErrorCodes.NotAFile },
        { "write_file", "a.txt/x", ToolErrorCodes.NotADirectory },
        { "write_file", "x\0y", ToolErrorCodes.InvalidPath },
        { "write_file", new string('n', 256), ToolErrorCodes.InvalidPath },
        { "write_file", "loop1", ToolErrorCodes.InvalidPath },
        { "write_file", "immutable.txt", ToolErrorCodes.PermissionDenied },
        { "list_dir", ".", Ok },
        { "list_dir", "dir", Ok },
        { "list_dir", "linkdir-in", Ok },
        { "list_dir", "~", Ok },
        { "list_dir", "a.txt", ToolErrorCodes.NotADirectory },
        { "list_dir", "pipe", ToolErrorCodes.NotADirectory },
        { "list_dir", "linkdir-out", ToolErrorCodes.OutsideWorkspace },
        { "list_dir", "linkdir-etc", ToolErrorCodes.OutsideWorkspace },
        { "list_dir", "..", ToolErrorCodes.OutsideWorkspace },
        { "list_dir", "/", ToolErrorCodes.OutsideWorkspace },
        { "list_dir", "nope", ToolErrorCodes.NotFound },
        { "open_file", "a.txt", Ok },
        { "open_file", "link-inside", Ok },
        { "open_file", "dir", ToolErrorCodes.NotAFile },
        { "open_file", "pipe", ToolErrorCodes.NotAFile },
        { "open_file", "link-out", ToolErrorCodes.OutsideWorkspace },
        { "open_file", "nope.txt", ToolErrorCodes.NotFound },
    };

    [Theory]
    [MemberData(nameof(ReadCases))]
    [MemberData(nameof(OtherCases))]
    public async Task Each_path_of_the_corpus_gets_its_expected_answer_and_nothing_outside_changes(string function, string path, string expected)
    {
        path = path.Replace("{root}", _workspace.Root, StringComparison.Ordinal).Replace("{base}", _workspace.Base, StringComparison.Ordinal);
        var files = _workspace.Files();
        using var subscription = _workspace.Events.Subscribe();

        // On a worker with a deadline: a FIFO opened the blocking way would hang here, not fail.
        var json = await Task.Run(() => function switch
        {
            "read_file" => files.ReadFileAsync(path),
            "write_file" => files.WriteFileAsync(path, "written by the corpus"),
            "list_dir" => files.ListDirAsync(path),
            "open_file" => files.OpenFileAsync(path),
            _ => throw new ArgumentOutOfRangeException(nameof(function)),
        }).WaitAsync(TimeSpan.FromSeconds(10));

        using var result = JsonDocument.Parse(json);
        var ok = result.RootElement.GetProperty("ok").GetBoolean();
        var code = ok ? Ok : result.RootElement.GetProperty("error").GetProperty("code").GetString();
        Assert.True(expected == code, $"{function}('{path}') expected {expected}, got {json[..Math.Min(json.Length, 400)]}");

        Assert.DoesNotContain(WorkspaceFixture.Secret, json, StringComparison.Ordinal);
        Assert.DoesNotContain("root:x:0:0", json, StringComparison.Ordinal);
        Assert.Equal(_workspace.OutsideSnapshot, _workspace.Snapshot());
        Assert.False(File.Exists("/tmp/artemis-escape.txt"));
        if (ok && function == "write_file")
        {
            var written = result.RootElement.GetProperty("path").GetString()!;
            Assert.Equal("written by the corpus", await File.ReadAllTextAsync(Path.Combine(_workspace.Root, written)));
        }

        if (function == "open_file")
        {
            Assert.Equal(ok, subscription.Reader.TryRead(out _));
        }
    }

    public void Dispose() => _workspace.Dispose();
}
