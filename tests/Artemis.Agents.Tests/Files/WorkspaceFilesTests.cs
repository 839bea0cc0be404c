using Artemis.Agents.Files;
using Microsoft.Extensions.Logging.Abstractions;

namespace Artemis.Agents.Tests.Files;

public sealed class WorkspaceFilesTests : IDisposable
{
    private readonly WorkspaceFixture _workspace = new();

    [Fact]
    public async Task Read_file_returns_the_exact_json_the_model_reads()
    {
        var json = await _workspace.Files().ReadFileAsync("héllo wörld ✓.txt");

        Assert.Equal("""{"ok":true,"path":"héllo wörld ✓.txt","size":7,"content":"unicode"}""", json);
    }

    [Fact]
    public async Task Read_file_escapes_json_and_substitutes_invalid_utf8()
    {
        await File.WriteAllBytesAsync(Path.Combine(_workspace.Root, "odd.txt"), [.. "say \"hi\"\n\t"u8, 0xff, (byte)'!']);

        var json = await _workspace.Files().ReadFileAsync("odd.txt");

        Assert.Equal("""{"ok":true,"path":"odd.txt","size":12,"content":"say \"hi\"\n\t�!"}""", json);
    }

    [Fact]
    public async Task Refusals_are_short_structured_errors()
    {
        var json = await _workspace.Files().ReadFileAsync("../outside/secret.txt");

        Assert.Equal("""{"ok":false,"error":{"code":"outside_workspace","message":"'../outside/secret.txt' is outside the workspace: only paths inside it can be used"}}""", json);
    }

    [Fact]
    public async Task A_workspace_root_reached_through_a_symlink_confines_to_its_real_folder()
    {
        var alias = Path.Combine(_workspace.Base, "alias");
        File.CreateSymbolicLink(alias, _workspace.Root);
        var files = new WorkspaceFiles(alias, new WorkspaceOptions(), _workspace.Events, NullLogger<WorkspaceFiles>.Instance);

        Assert.Contains("\"ok\":true", await files.ReadFileAsync("a.txt"), StringComparison.Ordinal);
        Assert.Contains("\"ok\":true", await files.ReadFileAsync(Path.Combine(_workspace.Root, "a.txt")), StringComparison.Ordinal);
        Assert.Contains("outside_workspace", await files.ReadFileAsync("../outside/secret.txt"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_file_publishes_the_request_for_the_browser()
    {
        using var subscription = _workspace.Events.Subscribe();

        var json = await _workspace.Files().OpenFileAsync("dir/../dir/b.txt");

        Assert.Equal("""{"ok":true,"path":"dir/b.txt","requested":true}""", json);
        Assert.True(subscription.Reader.TryRead(out var request));
        Assert.Equal("dir/b.txt", request.Path);
        Assert.Equal(Path.Combine(_workspace.Root, "dir", "b.txt"), request.FullPath);
        Assert.Equal(_workspace.Root, request.WorkspaceRoot);
        Assert.Contains(request, _workspace.Events.Recent);
    }

    [Fact]
    public async Task Write_file_replaces_atomically_and_leaves_no_temporary_file()
    {
        var files = _workspace.Files();

        var json = await files.WriteFileAsync("dir/b.txt", "new bee");

        Assert.Equal("""{"ok":true,"path":"dir/b.txt","size":7,"created":false}""", json);
        Assert.Equal("new bee", await File.ReadAllTextAsync(Path.Combine(_workspace.Root, "dir", "b.txt")));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_workspace.Root, "dir")), name => name.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Write_file_through_an_inside_link_keeps_the_link_and_changes_its_target()
    {
        await _workspace.Files().WriteFileAsync("link-inside", "changed");

        Assert.Equal("a.txt", new FileInfo(Path.Combine(_workspace.Root, "link-inside")).LinkTarget);
        Assert.Equal("changed", await File.ReadAllTextAsync(Path.Combine(_workspace.Root, "a.txt")));
    }

    [Fact]
    public async Task Write_file_refuses_content_over_the_size_cap_without_writing()
    {
        var json = await _workspace.Files().WriteFileAsync("huge.txt", new string('x', (int)WorkspaceFixture.MaxFileBytes + 1));

        Assert.Contains("too_large", json, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_workspace.Root, "huge.txt")));
    }

    [Fact]
    public async Task List_dir_names_each_entry_with_its_type()
    {
        var json = await _workspace.Files().ListDirAsync("dir");

        Assert.Equal("""{"ok":true,"path":"dir","entries":[{"name":"b.txt","type":"file","size":3},{"name":"sub","type":"directory","size":null},{"name":"up","type":"symlink","size":null}],"truncated":false}""", json);
    }

    public void Dispose() => _workspace.Dispose();
}
