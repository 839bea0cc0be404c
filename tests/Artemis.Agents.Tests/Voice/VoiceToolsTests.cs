using System.Text.Json.Nodes;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Voice;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Tests.Voice;

/// <summary>
/// The voice tools are the shared <c>files</c> plugin's (so they stay inside the workspace, whatever the path or the
/// symlinks say) and create_card queues a real card, or tells the model what is wrong with it.
/// </summary>
[Collection(VoiceTestGroup.Name)]
public sealed class VoiceToolsTests : IDisposable
{
    private readonly VoiceFixture _voice;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "artemis-voice-tools-" + Guid.NewGuid().ToString("N"));
    private readonly string _outside = Path.Combine(Path.GetTempPath(), "artemis-voice-outside-" + Guid.NewGuid().ToString("N"));
    private readonly WorkspaceVoiceTools _tools;

    public VoiceToolsTests(VoiceFixture voice)
    {
        _voice = voice;
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
        var workspace = Options.Create(new WorkspaceOptions { Root = _root, MaxFileBytes = 1024 });
        _tools = new WorkspaceVoiceTools(new WorkspaceFilesFactory(workspace, new FileOpenRequests()), workspace,
            voice.Services.GetRequiredService<CardValidator>(), voice.Services.GetRequiredService<CardStore>(), NullLogger<WorkspaceVoiceTools>.Instance);
    }

    [Fact]
    public async Task ReadFile_reads_a_text_file_and_follows_a_symlink_that_stays_inside()
    {
        Assert.Contains("def add", await ContentAsync("read_file", """{"path":"src/app.py"}"""), StringComparison.Ordinal);
        Assert.Contains("def add", await ContentAsync("read_file", """{"path":"inside-link.py"}"""), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"path":"../secret.txt"}""", ToolErrorCodes.OutsideWorkspace)]
    [InlineData("""{"path":"escape.txt"}""", ToolErrorCodes.OutsideWorkspace)]
    [InlineData("""{"path":"out/secret.txt"}""", ToolErrorCodes.OutsideWorkspace)]
    [InlineData("""{"path":"src/../../x"}""", ToolErrorCodes.OutsideWorkspace)]
    [InlineData("""{"path":"/etc/passwd"}""", ToolErrorCodes.OutsideWorkspace)]
    [InlineData("""{"path":"a\u0000b"}""", ToolErrorCodes.InvalidPath)]
    [InlineData("""{"path":"image.bin"}""", ToolErrorCodes.Binary)]
    [InlineData("""{"path":"src"}""", ToolErrorCodes.NotAFile)]
    [InlineData("""{"path":"missing.txt"}""", ToolErrorCodes.NotFound)]
    [InlineData("""{}""", WorkspaceVoiceTools.InvalidArguments)]
    [InlineData("""not json""", WorkspaceVoiceTools.InvalidArguments)]
    public async Task ReadFile_refuses_with_a_short_error_the_model_can_act_on(string arguments, string code)
    {
        var result = await ErrorAsync("read_file", arguments);
        Assert.Equal(code, (string?)result["code"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)result["message"]));
    }

    [Fact]
    public async Task ReadFile_refuses_the_sibling_folder_whose_name_merely_starts_like_the_root()
    {
        var sibling = "../" + Path.GetFileName(_root) + "-evil/x.txt";
        Assert.Equal(ToolErrorCodes.OutsideWorkspace, (string?)(await ErrorAsync("read_file", $$"""{"path":"{{sibling}}"}"""))["code"]);
    }

    [Fact]
    public async Task ReadFile_refuses_a_file_over_the_size_limit_without_reading_it()
    {
        File.WriteAllText(Path.Combine(_root, "big.txt"), new string('x', 2048));
        var result = await ErrorAsync("read_file", """{"path":"big.txt"}""");
        Assert.Equal(ToolErrorCodes.TooLarge, (string?)result["code"]);
        Assert.Contains("more than the 1024", (string?)result["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListDir_lists_entries_and_marks_links()
    {
        var result = JsonNode.Parse((await _tools.InvokeAsync("list_dir", """{"path":"."}""", new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        var entries = result["entries"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string)e!["type"]!);
        Assert.Equal("directory", entries["src"]);
        Assert.Equal("symlink", entries["escape.txt"]);
        Assert.Equal("file", entries["image.bin"]);
    }

    [Fact]
    public async Task The_file_tools_are_described_to_the_model_in_the_files_plugins_own_words()
    {
        var definitions = _tools.Definitions();
        Assert.Equal(["read_file", "list_dir", "open_file", "create_card"], definitions.Select(t => (string?)t!["name"]));
        var plugin = Microsoft.SemanticKernel.KernelPluginFactory.CreateFromObject(
            new WorkspaceFilesFactory(Options.Create(new WorkspaceOptions()), new FileOpenRequests()).Create(_root), WorkspaceFiles.PluginName);
        foreach (var tool in definitions.Take(3))
        {
            var function = plugin[(string)tool!["name"]!].Metadata;
            Assert.Equal(function.Description, (string?)tool["description"]);
            Assert.Equal("string", (string?)tool["parameters"]!["properties"]!["path"]!["type"]);
            Assert.Equal(function.Parameters.Single(p => p.Name == "path").Description, (string?)tool["parameters"]!["properties"]!["path"]!["description"]);
        }

        Assert.Empty(definitions[1]!["parameters"]!["required"]!.AsArray()); // list_dir's path defaults to the root
        Assert.DoesNotContain(definitions, t => (string?)t!["name"] == "write_file");
    }

    [Fact]
    public async Task OpenFile_announces_the_file_and_gives_the_page_its_text()
    {
        var result = await _tools.InvokeAsync("open_file", """{"path":"src/app.py"}""", new VoiceToolContext("s"), CancellationToken.None);
        var output = JsonNode.Parse(result.Output)!;
        Assert.True((bool)output["ok"]!);
        Assert.Equal("src/app.py", (string?)output["path"]);
        Assert.Equal("open_file", (string?)result.BrowserEvent!["type"]);
        Assert.Equal("src/app.py", (string?)result.BrowserEvent["path"]);
        Assert.Contains("def add", (string?)result.BrowserEvent["content"], StringComparison.Ordinal);

        var refused = await _tools.InvokeAsync("open_file", """{"path":"escape.txt"}""", new VoiceToolContext("s"), CancellationToken.None);
        Assert.Null(refused.BrowserEvent);
        Assert.Equal(ToolErrorCodes.OutsideWorkspace, (string?)JsonNode.Parse(refused.Output)!["error"]!["code"]);
    }

    [Fact]
    public async Task CreateCard_queues_a_real_card_on_a_workspace_folder()
    {
        var title = "Voice card " + Guid.NewGuid().ToString("N")[..8];
        var result = await _tools.InvokeAsync("create_card",
            $$"""{"title":"{{title}}","description":"Make add handle floats","testCommand":"python3 -m pytest -q","workspace":"src","budgetUsd":0.5}""",
            new VoiceToolContext("s"), CancellationToken.None);

        var output = JsonNode.Parse(result.Output)!;
        Assert.True((bool)output["ok"]!, result.Output);
        var id = (string)output["card"]!["id"]!;
        var card = await _voice.Services.GetRequiredService<CardStore>().GetAsync(id, CancellationToken.None);
        Assert.Equal(title, card.Title);
        Assert.Equal(CardStage.Queued, card.Stage);
        Assert.Equal(Path.Combine(new WorkspaceRoot(_root).FullPath, "src"), card.Workspace);
        Assert.Equal(0.5m, card.BudgetUsd);
        Assert.Equal("card_created", (string?)result.BrowserEvent!["type"]);
        Assert.Equal(id, (string?)result.BrowserEvent["id"]);
    }

    [Theory]
    [InlineData("""{"title":"","testCommand":"make test"}""", "title")]
    [InlineData("""{"title":"No test"}""", "testCommand")]
    [InlineData("""{"title":"Too dear","testCommand":"make test","budgetUsd":1000}""", "budgetUsd")]
    [InlineData("""{"title":"Not a number","testCommand":"make test","budgetUsd":"lots"}""", "budgetUsd")]
    [InlineData("""{"title":"Escapes","testCommand":"make test","workspace":"out"}""", "workspace")]
    [InlineData("""{"title":"Missing","testCommand":"make test","workspace":"nowhere"}""", "workspace")]
    public async Task CreateCard_returns_what_is_wrong_with_the_card_field_by_field_and_stores_nothing(string arguments, string field)
    {
        var before = (await _voice.Services.GetRequiredService<CardStore>().ListAsync(null, 1000, CancellationToken.None)).Count;

        var error = await ErrorAsync("create_card", arguments);

        Assert.Equal(WorkspaceVoiceTools.InvalidCard, (string?)error["code"]);
        Assert.NotEmpty(error["fields"]![field]!.AsArray());
        Assert.Contains(field, (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal(before, (await _voice.Services.GetRequiredService<CardStore>().ListAsync(null, 1000, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_tool_voice_does_not_offer_is_refused()
    {
        Assert.Equal(WorkspaceVoiceTools.InvalidArguments, (string?)(await ErrorAsync("write_file", """{"path":"x","content":"y"}"""))["code"]);
        Assert.False(File.Exists(Path.Combine(_root, "x")));
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
        Assert.True((bool)result["ok"]!, result.ToJsonString());
        return (string?)result["content"];
    }

    /// <summary>The structured error of a refused call: <c>{ok:false, error:{code, message}}</c>.</summary>
    private async Task<JsonNode> ErrorAsync(string tool, string arguments)
    {
        var result = JsonNode.Parse((await _tools.InvokeAsync(tool, arguments, new VoiceToolContext("s"), CancellationToken.None)).Output)!;
        Assert.False((bool)result["ok"]!, result.ToJsonString());
        return result["error"]!;
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
        Directory.Delete(_root + "-evil", recursive: true);
    }
}
