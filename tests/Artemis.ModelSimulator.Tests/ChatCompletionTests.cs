using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;

namespace Artemis.ModelSimulator.Tests;

/// <summary>Answers as the official OpenAI client sees them, over real HTTP.</summary>
public sealed class ChatCompletionTests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    private static readonly ChatTool ReadFileTool = ChatTool.CreateFunctionTool(
        "files-read_file",
        "Reads a file of the workspace.",
        BinaryData.FromString("""{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"""));

    [Fact]
    public async Task Completion_returns_the_scripted_content_and_usage_with_cached_tokens()
    {
        await _sim.ResetAsync("""
            {
              "steps": [
                {
                  "match": { "lastRole": "user", "lastContentContains": "hello" },
                  "reply": { "content": "Hello, tester.", "usage": { "promptTokens": 120, "cachedTokens": 20, "completionTokens": 14 } }
                }
              ]
            }
            """);

        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hello there")]);

        Assert.Equal("Hello, tester.", Assert.Single(completion.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(SimulatorHost.Model, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(120, completion.Usage.InputTokenCount);
        Assert.Equal(14, completion.Usage.OutputTokenCount);
        Assert.Equal(134, completion.Usage.TotalTokenCount);
        Assert.Equal(20, completion.Usage.InputTokenDetails.CachedTokenCount);
    }

    [Fact]
    public async Task Completion_without_scripted_usage_reports_the_computed_token_counts()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "Hi!" } }""");

        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("hello")]);

        // Prompt: ceil(14/4)+4 + ceil(5/4)+4 = 8 + 6. Completion: ceil(3/4)+1.
        Assert.Equal("Hi!", completion.Content[0].Text);
        Assert.Equal(14, completion.Usage.InputTokenCount);
        Assert.Equal(2, completion.Usage.OutputTokenCount);
        Assert.Equal(16, completion.Usage.TotalTokenCount);
        Assert.Equal(0, completion.Usage.InputTokenDetails.CachedTokenCount);
    }

    [Fact]
    public async Task Streaming_text_reassembled_equals_the_scripted_content_and_the_usage_update_arrives()
    {
        const string Content = "Streaming works: this reply arrives in several small pieces.";
        await _sim.ResetAsync($$"""{ "steps": [ { "reply": { "content": "{{Content}}", "usage": { "promptTokens": 50, "cachedTokens": 10, "completionTokens": 15 } } } ] }""");

        var text = new StringBuilder();
        var contentUpdates = 0;
        ChatTokenUsage? usage = null;
        ChatFinishReason? finishReason = null;
        await foreach (var update in _sim.ChatClient().CompleteChatStreamingAsync([new UserChatMessage("stream please")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
                contentUpdates++;
            }

            usage = update.Usage ?? usage;
            finishReason = update.FinishReason ?? finishReason;
        }

        Assert.Equal(Content, text.ToString());
        Assert.True(contentUpdates > 1, $"The content came in {contentUpdates} update(s)");
        Assert.Equal(ChatFinishReason.Stop, finishReason);
        Assert.NotNull(usage);
        Assert.Equal(50, usage.InputTokenCount);
        Assert.Equal(15, usage.OutputTokenCount);
        Assert.Equal(10, usage.InputTokenDetails.CachedTokenCount);

        // The OpenAI client asks for the usage itself: the log shows what it sent and what was reported.
        var entry = Assert.Single(await _sim.RequestsAsync());
        Assert.True(entry.GetProperty("stream").GetBoolean());
        Assert.True(entry.GetProperty("includeUsage").GetBoolean());
        Assert.Equal(65, entry.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Streaming_reply_reports_usage_only_when_include_usage_is_set(bool includeUsage)
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "Some streamed words." } }""");

        using var response = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi", stream: true, includeUsage: includeUsage));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = (await response.Content.ReadAsStringAsync())
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.StartsWith("data: ", StringComparison.Ordinal) ? e["data: ".Length..] : throw new InvalidOperationException($"Not an SSE data event: {e}"))
            .ToList();

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, chunk => Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var usageChunks = chunks.Where(chunk => chunk.TryGetProperty("usage", out _)).ToList();
        if (includeUsage)
        {
            var usageChunk = Assert.Single(usageChunks);
            Assert.Equal(usageChunk.GetRawText(), chunks[^1].GetRawText());
            Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
            Assert.Equal(6, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }
        else
        {
            Assert.Empty(usageChunks);
            Assert.Equal("stop", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task Tool_call_round_trip_matches_the_next_step_on_the_tool_result()
    {
        await _sim.ResetAsync(Scripts.ReadThenAnswer);
        var client = _sim.ChatClient();
        var options = new ChatCompletionOptions { Tools = { ReadFileTool } };
        List<ChatMessage> messages = [new SystemChatMessage("You are a coding agent."), new UserChatMessage("Please add a test for add().")];

        ChatCompletion first = await client.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("call_1", call.Id);
        Assert.Equal("files-read_file", call.FunctionName);
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal("src/app.py", arguments.RootElement.GetProperty("path").GetString());
        }

        Assert.Equal(20, first.Usage.InputTokenDetails.CachedTokenCount);

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "def add(a, b):\n    return a + b\n"));
        ChatCompletion second = await client.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Equal("Done: the test is added.", second.Content[0].Text);

        var log = await _sim.RequestsAsync();
        Assert.Equal(2, log.Count);
        Assert.Equal(["read the file first", "answer after reading"], log.Select(e => e.GetProperty("step").GetString()));
        Assert.Equal("files-read_file", Assert.Single(log[1].GetProperty("tools").EnumerateArray()).GetString());
        var sent = log[1].GetProperty("messages");
        Assert.Equal(4, sent.GetArrayLength());
        Assert.Equal("call_1", sent[2].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("tool", sent[3].GetProperty("role").GetString());
        Assert.Equal("call_1", sent[3].GetProperty("tool_call_id").GetString());
    }

    [Fact]
    public async Task Streaming_tool_calls_reassemble_to_their_names_and_full_arguments()
    {
        await _sim.ResetAsync("""
            {
              "steps": [
                {
                  "reply": {
                    "toolCalls": [
                      { "name": "files-read_file", "arguments": { "path": "src/app.py", "lines": { "from": 1, "to": 40 } } },
                      { "id": "call_given", "name": "files-list", "arguments": { "folder": "tests" } }
                    ]
                  }
                }
              ]
            }
            """);

        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        var argumentUpdates = 0;
        ChatFinishReason? finishReason = null;
        var options = new ChatCompletionOptions { Tools = { ReadFileTool } };
        await foreach (var update in _sim.ChatClient().CompleteChatStreamingAsync([new UserChatMessage("look around")], options))
        {
            foreach (var toolUpdate in update.ToolCallUpdates)
            {
                if (toolUpdate.ToolCallId is { } id)
                {
                    ids[toolUpdate.Index] = id;
                }

                if (toolUpdate.FunctionName is { } name)
                {
                    names[toolUpdate.Index] = name;
                }

                var piece = toolUpdate.FunctionArgumentsUpdate?.ToString() ?? "";
                if (piece.Length > 0)
                {
                    argumentUpdates++;
                    (arguments.TryGetValue(toolUpdate.Index, out var text) ? text : arguments[toolUpdate.Index] = new StringBuilder()).Append(piece);
                }
            }

            finishReason = update.FinishReason ?? finishReason;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finishReason);
        Assert.Equal("files-read_file", names[0]);
        Assert.Equal("files-list", names[1]);
        Assert.StartsWith("call_", ids[0], StringComparison.Ordinal);
        Assert.Equal("call_given", ids[1]);
        Assert.True(argumentUpdates > 2, $"The arguments came in {argumentUpdates} update(s)");
        Assert.Equal("""{"path":"src/app.py","lines":{"from":1,"to":40}}""", arguments[0].ToString());
        Assert.Equal("""{"folder":"tests"}""", arguments[1].ToString());
    }

    [Fact]
    public async Task Reply_longer_than_max_completion_tokens_is_cut_with_finish_reason_length()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "One two three four five six seven eight nine ten." } }""");

        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync(
            [new UserChatMessage("count")], new ChatCompletionOptions { MaxOutputTokenCount = 3 });

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal("One two ", completion.Content[0].Text);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Reply_delay_is_spread_between_the_streamed_chunks()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "A reply that takes its time to arrive.", "delayMs": 600 } }""");
        var stopwatch = Stopwatch.StartNew();
        var arrivals = new List<TimeSpan>();

        await foreach (var update in _sim.ChatClient().CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            arrivals.Add(stopwatch.Elapsed);
        }

        // Spread, not paid up front: at least half the delay lies between the first and the last chunk. A slow machine
        // only widens that gap; a simulator that waited before the first chunk would make it nearly zero.
        Assert.True(arrivals.Count > 3, $"{arrivals.Count} updates");
        Assert.True(arrivals[^1] - arrivals[0] >= TimeSpan.FromMilliseconds(300), $"chunks arrived at {string.Join(", ", arrivals)}");
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(550), $"The stream ended after {stopwatch.Elapsed}");
    }
}
