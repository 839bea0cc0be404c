using OpenAI.Chat;

namespace Artemis.ModelSimulator.Tests;

/// <summary>The script the simulator starts with: from Simulator:ScriptPath, or the built-in default.</summary>
public sealed class StartupTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("artemis-sim-").FullName;

    [Fact]
    public async Task Script_file_named_by_configuration_is_active_from_the_start()
    {
        var path = Path.Combine(_directory, "script.json");
        await File.WriteAllTextAsync(path, """
            {
              // Comments are allowed in script files.
              "models": ["from-file"],
              "steps": [ { "match": { "lastContentContains": "ping" }, "reply": { "content": "pong from the file" } } ]
            }
            """);
        await using var sim = await SimulatorHost.StartAsync($"--Simulator:ScriptPath={path}");

        ChatCompletion completion = await sim.ChatClient(model: "from-file").CompleteChatAsync([new UserChatMessage("ping")]);

        Assert.Equal("pong from the file", completion.Content[0].Text);
        Assert.Contains("from-file", await sim.Http.GetStringAsync("v1/models"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_script_the_default_answers_any_message()
    {
        await using var sim = await SimulatorHost.StartAsync();

        ChatCompletion completion = await sim.ChatClient().CompleteChatAsync([new UserChatMessage("anything at all")]);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Contains("simulator", completion.Content[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_script_file_stops_the_start_naming_the_file_and_the_problem()
    {
        var path = Path.Combine(_directory, "bad.json");
        File.WriteAllText(path, """{ "steps": [ { "fault": { "kind": "status", "status": 200 } } ] }""");

        var exception = Assert.Throws<InvalidOperationException>(() => SimulatorApp.Build([$"--Simulator:ScriptPath={path}"]));

        Assert.Contains(path, exception.Message, StringComparison.Ordinal);
        Assert.Contains("status 200 is outside 400", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_log_keeps_only_the_newest_requests_up_to_the_configured_limit()
    {
        await using var sim = await SimulatorHost.StartAsync("--Simulator:MaxLoggedRequests=3");
        var client = sim.ChatClient();

        for (var i = 1; i <= 5; i++)
        {
            await client.CompleteChatAsync([new UserChatMessage($"message {i}")]);
        }

        var log = await sim.RequestsAsync();
        Assert.Equal([3L, 4L, 5L], log.Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal("message 5", log[^1].GetProperty("messages")[0].GetProperty("content").GetString());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
