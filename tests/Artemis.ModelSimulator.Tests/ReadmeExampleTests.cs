using System.ClientModel;
using System.Text.RegularExpressions;
using OpenAI.Chat;

namespace Artemis.ModelSimulator.Tests;

/// <summary>The example script of the simulator's README.md runs as the README says.</summary>
public sealed partial class ReadmeExampleTests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    [Fact]
    public async Task Readme_example_script_reads_the_file_then_rate_limits_once_then_answers()
    {
        await _sim.ResetAsync(ReadmeScript());
        var client = _sim.ChatClient();
        List<ChatMessage> messages = [new UserChatMessage("Please add a test for add().")];

        ChatCompletion first = await client.CompleteChatAsync(messages);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal(("call_1", "files-read_file"), (call.Id, call.FunctionName));
        Assert.Equal(134, first.Usage.TotalTokenCount);

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "def add(a, b): return a + b"));
        var limited = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(messages));
        Assert.Equal(429, limited.Status);
        ChatCompletion done = await client.CompleteChatAsync(messages);
        Assert.Equal("Done: the test is added.", done.Content[0].Text);

        // "times": 1 has been used: the same question now gets the fallback.
        ChatCompletion again = await client.CompleteChatAsync([new UserChatMessage("Please add a test for add().")]);
        Assert.Equal("I have nothing scripted for that.", again.Content[0].Text);
        Assert.Equal([200, 429, 200, 200], (await _sim.RequestsAsync()).Select(e => e.GetProperty("status").GetInt32()));
    }

    /// <summary>The first ```json block of tests/Artemis.ModelSimulator/README.md.</summary>
    private static string ReadmeScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var readme = Path.Combine(directory.FullName, "tests", "Artemis.ModelSimulator", "README.md");
            if (File.Exists(readme))
            {
                return JsonBlock().Match(File.ReadAllText(readme)).Groups["json"].Value;
            }
        }

        throw new InvalidOperationException($"tests/Artemis.ModelSimulator/README.md not found above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"```json\n(?<json>.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}
