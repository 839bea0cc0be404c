using System.Text.Json.Nodes;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Voice;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Tests.Voice;

/// <summary>The voice tools stay inside the workspace, whatever the path or the symlinks say.</summary>
public sealed class VoiceToolsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "artemis-voice-tools-" + Guid.NewGuid().ToString("N"));
    private readonly string _outside = Path.Combine(Path.GetTempPath(), "artemis-voice-outside-" + Guid.NewGuid().ToString("N"));
    private readonly WorkspaceVoiceTools _tools;

    public VoiceToolsTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "src"));
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_root, "src", "app.py"), "def add(a, b):\n    return a + b\n");
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "secret");
        File.WriteAllBytes(Path.Combine(_root, "image.bin"), [1, 0, 2]);
        File.CreateSymbolicLink(Path.Combine(_root, "escape.txt"), Path.Combine(_outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "out"), _outside);
        File.CreateSymbolicLink(Path.Combine(_root, "inside-link.py"), Path.Combine(_root, "src", "app.py"));
        // A sibling whose name starts with the root's: a string-prefix check would let it through.
        Directory.CreateDirectory(_root + "-evil");
        File.WriteAllText(Path.Combine(_root + "-evil", "x.txt"), "evil");
        _tools = new WorkspaceVoiceTools(Options.Create(new WorkspaceOptions { Root = _root, MaxFileBytes = 1024 }), new VoiceCardRequests(), TimeProvider.System);
    }

    [Fact]
    public async Task ReadFile_reads_a_text_file_and_follows_a_symlink_that_stays_inside()
    {
        Assert.Contains("def add", await ContentAsync("read_file", """{"path":"src/app.py"}"""), StringComparison.Ordinal);
        Assert.Contains("def add", await ContentAsync("read_file", """{"path":"inside-link.py"}"""), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"path":"../secret.txt"}""", "outside the workspace")]
    [InlineData("""{"path":"escape.txt"}""", "outside the workspace")]
    [InlineData("""{"path":"out/secret.txt"}""", "outside the workspace")]
    [InlineData("""{"path":"src/../../x"}""", "outside the workspace")]
    [InlineData("""{"path":"/etc/passwd"}""", "is absolute")]
    [InlineData("""{"path":"a\u0000b"}""", "without control characters")]
    [InlineData("""{"path":"image.bin"}""", "binary file")]
    [InlineData("""{"path":"src"}""", "is a folder")]
    [InlineData("""{"path":"missing.txt"}""", "does not exist")]
    [InlineData("""not json""", "not a JSON object")]
    public async Task ReadFile_refuses_with_a_short_error_the_model_can_act_on(string arguments, string expected)
    {
        var result = JsonNode.Parse((await _tools.InvokeAsync("read_file", arguments, new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        Assert.Contains(expected, (string?)result["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadFile_refuses_the_sibling_folder_whose_name_merely_starts_like_the_root()
    {
        var sibling = "../" + Path.GetFileName(_root) + "-evil/x.txt";
        var result = JsonNode.Parse((await _tools.InvokeAsync("read_file", $$"""{"path":"{{sibling}}"}""", new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        Assert.Contains("outside the workspace", (string?)result["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadFile_refuses_a_file_over_the_size_limit_without_reading_it()
    {
        File.WriteAllText(Path.Combine(_root, "big.txt"), new string('x', 2048));
        var result = JsonNode.Parse((await _tools.InvokeAsync("read_file", """{"path":"big.txt"}""", new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        Assert.Contains("more than the 1024 allowed", (string?)result["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListDir_lists_entries_and_marks_links()
    {
        var result = JsonNode.Parse((await _tools.InvokeAsync("list_dir", """{"path":"."}""", new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        var entries = result["entries"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string)e!["type"]!);
        Assert.Equal("dir", entries["src"]);
        Assert.Equal("link", entries["escape.txt"]);
        Assert.Equal("file", entries["image.bin"]);
    }

    [Fact]
    public void Realtime_usage_with_cached_audio_prices_each_part_at_its_own_rate()
    {
        var price = new ModelPrice(4.00m, 0.40m, 16.00m, 32.00m, 64.00m);
        var cost = new RealtimeUsage(1000, 600, 400, 700, 100, 500, 300).Price("gpt-realtime", price);
        Assert.Equal((700 * 0.40m + 300 * 32.00m + 200 * 16.00m + 300 * 64.00m) / 1_000_000m, cost.Usd);
        Assert.Throws<InvalidUsageException>(() => new RealtimeUsage(1000, 500, 400, 0, 0, 10, 0).Price("gpt-realtime", price));
    }

    private async Task<string?> ContentAsync(string tool, string arguments)
    {
        var result = JsonNode.Parse((await _tools.InvokeAsync(tool, arguments, new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        Assert.Null(result["error"]);
        return (string?)result["content"];
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
        Directory.Delete(_root + "-evil", recursive: true);
    }
}
