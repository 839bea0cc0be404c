using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Artemis.ModelSimulator.Tests;

/// <summary>Microsoft.Extensions.AI's OpenAI adapter (what the app uses) against the simulator, unchanged.</summary>
public sealed class ExtensionsAITests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    private static readonly AIFunctionDeclaration ReadFile = AIFunctionFactory.CreateDeclaration("files-read_file", "Reads a file.",
        JsonElement.Parse("""{"type":"object","properties":{"path":{"type":"string"}}}"""));

    [Fact]
    public async Task Microsoft_Extensions_AI_adapter_gets_text_usage_and_function_calls()
    {
        await _sim.ResetAsync(Scripts.ReadThenAnswer);
        IChatClient client = _sim.ChatClient().AsIChatClient();
        var options = new ChatOptions { Tools = [ReadFile] };
        List<ChatMessage> messages = [new(ChatRole.User, "add a test")];

        var first = await client.GetResponseAsync(messages, options);

        var call = Assert.Single(first.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("files-read_file", call.Name);
        Assert.Equal("call_1", call.CallId);
        Assert.Equal("src/app.py", call.Arguments?["path"]?.ToString());
        Assert.Equal(120, first.Usage?.InputTokenCount);
        Assert.Equal(20, first.Usage?.CachedInputTokenCount);

        messages.AddRange(first.Messages);
        messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_1", "def add(a, b): return a + b")]));
        var second = await client.GetStreamingResponseAsync(messages, options).ToChatResponseAsync();

        Assert.Equal("Done: the test is added.", second.Text);
        Assert.NotNull(second.Usage);
        Assert.True(second.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task Microsoft_Extensions_AI_adapter_reassembles_streamed_function_calls()
    {
        await _sim.ResetAsync(Scripts.ReadThenAnswer);
        IChatClient client = _sim.ChatClient().AsIChatClient();

        var response = await client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "add a test")],
            new ChatOptions { Tools = [ReadFile] }).ToChatResponseAsync();

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("files-read_file", call.Name);
        Assert.Equal("src/app.py", call.Arguments?["path"]?.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal(134, response.Usage?.TotalTokenCount);
    }
}
