using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Artemis.Agents.Files;
using Microsoft.Extensions.Logging.Abstractions;

namespace Artemis.Agents.Tests.Files;

/// <summary>
/// A real workspace on disk with every kind of trap beside it: <c>base/app</c> is the root, <c>base/app-evil</c> and
/// <c>base/outside</c> are what a string-prefix check or a followed link would reach.
/// </summary>
public sealed class WorkspaceFixture : IDisposable
{
    public const long MaxFileBytes = 64 * 1024;
    public const string Secret = "host secret: must never be read or written";

    private static readonly string[] Beside = ["app-evil", "outside"];

    private readonly Socket _socket;

    public WorkspaceFixture()
    {
        Base = Directory.CreateTempSubdirectory("artemis-files-").FullName;
        Root = Path.Combine(Base, "app");
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Path.Combine(Base, "app-evil"));
        Directory.CreateDirectory(Path.Combine(Base, "outside"));
        File.WriteAllText(Path.Combine(Base, "app-evil", "x.txt"), Secret);
        File.WriteAllText(Path.Combine(Base, "outside", "secret.txt"), Secret);

        Write("a.txt", "hello");
        Write("empty.txt", "");
        Write("dir/b.txt", "bee");
        Write("dir/sub/c.txt", "sea");
        Write("with space.txt", "space");
        Write("héllo wörld ✓.txt", "unicode");
        Write("日本語.md", "japanese");
        Write("%2e%2e", "literal percent name");
        Write("~/notes.txt", "a folder named tilde");
        Write("....", "dots");
        Write(new string('n', 255), "longest name");
        Write(new string('é', 126) + ".t", "long unicode name");
        Write("exact.txt", new string('x', (int)MaxFileBytes));
        Write("big.txt", new string('x', (int)MaxFileBytes + 1));
        File.WriteAllBytes(Path.Combine(Root, "bin.dat"), [.. "text"u8, 0, .. "more"u8]);
        File.WriteAllBytes(Path.Combine(Root, "image.png"), [0x89, .. "PNG\r\n"u8, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
        File.WriteAllBytes(Path.Combine(Root, "late-nul.txt"), [.. Enumerable.Repeat((byte)'a', WorkspaceFiles.BinaryProbeBytes), 0]);
        using (var sparse = File.Create(Path.Combine(Root, "sparse-10g.txt")))
        {
            sparse.SetLength(10L * 1024 * 1024 * 1024);
        }

        Link("link-inside", "a.txt");
        Link("link-abs-inside", Path.Combine(Root, "a.txt"));
        Link("link-out", "../outside/secret.txt");
        Link("link-abs-out", "/etc/passwd");
        Link("link-shadow", "/etc/shadow");
        Link("link-evil", "../app-evil/x.txt");
        Link("link-abs-evil", Path.Combine(Base, "app-evil", "x.txt"));
        Link("linkdir-out", "../outside");
        Link("linkdir-abs-out", Path.Combine(Base, "outside"));
        Link("linkdir-etc", "/etc");
        Link("linkdir-in", "dir");
        Link("loop1", "loop2");
        Link("loop2", "loop1");
        Link("selfloop", "selfloop");
        Link("dangling", "nothing.txt");
        Link("dangling-out", "/nonexistent-artemis/zzz");
        Link("c1", "c2");
        Link("c2", "c3");
        Link("c3", "dir/sub/c.txt");
        Link("link-to-root", ".");
        Link("link-to-parent", "..");
        Link("dir/up", "../a.txt");
        Link("dir/sub/up2", "../../../outside/secret.txt");
        Link("link-dev-null", "/dev/null");
        Link("link-proc", "/proc/self/environ");
        Link("empty-target-dir/x", "../../outside/secret.txt");

        Run("mkfifo", Path.Combine(Root, "pipe"));
        Run("mknod", Path.Combine(Root, "null-device"), "c", "1", "3");
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(Root, "socket")));

        Write("immutable.txt", "frozen");
        Run("chattr", "+i", Path.Combine(Root, "immutable.txt"));

        OutsideSnapshot = Snapshot();
    }

    public string Base { get; }

    public string Root { get; }

    public FileOpenRequests Events { get; } = new();

    public string OutsideSnapshot { get; }

    public WorkspaceFiles Files(long maxFileBytes = MaxFileBytes) =>
        new(Root, new WorkspaceOptions { Root = Base, MaxFileBytes = maxFileBytes }, Events, NullLogger<WorkspaceFiles>.Instance);

    /// <summary>Names, sizes and content hashes of everything outside the root (and /etc/passwd): any change is a leak.</summary>
    public string Snapshot()
    {
        var lines = new List<string>();
        // Only the folders beside the root: enumerating the root would recurse through its link-to-parent forever.
        foreach (var file in Beside
                     .SelectMany(folder => Directory.EnumerateFileSystemEntries(Path.Combine(Base, folder), "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
                     .Concat(Directory.EnumerateFileSystemEntries(Base))
                     .Append("/etc/passwd")
                     .Order(StringComparer.Ordinal))
        {
            var hash = File.Exists(file) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))) : "dir";
            lines.Add($"{file} {hash}");
        }

        return string.Join('\n', lines);
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private void Link(string relative, string target)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
    }

    public static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {errors}");
    }

    public void Dispose()
    {
        _socket.Dispose();
        Run("chattr", "-i", Path.Combine(Root, "immutable.txt"));
        Directory.Delete(Base, recursive: true);
    }
}
