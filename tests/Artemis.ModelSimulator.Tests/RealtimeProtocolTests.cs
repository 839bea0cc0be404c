using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace Artemis.ModelSimulator.Tests;

/// <summary>The realtime endpoint speaks OpenAI's GA realtime protocol over a raw WebSocket.</summary>
public sealed class RealtimeProtocolTests(ApiKeySimulatorFixture fixture) : IClassFixture<ApiKeySimulatorFixture>
{
    private const string Key = ApiKeySimulatorFixture.Key;

    private readonly SimulatorHost _sim = fixture.Host;

    /// <summary>Server VAD with a short silence, transcription on, the bridge's kind of session.</summary>
    private static object SessionUpdate(bool createResponse = true, object[]? tools = null) => new
    {
        type = "session.update",
        session = new
        {
            type = "realtime",
            instructions = "You are Artemis.",
            audio = new
            {
                input = new
                {
                    format = new { type = "audio/pcm", rate = 24000 },
                    transcription = new { model = "gpt-4o-mini-transcribe" },
                    turn_detection = new { type = "server_vad", silence_duration_ms = 200, create_response = createResponse, interrupt_response = false },
                },
                output = new { format = new { type = "audio/pcm", rate = 24000 }, voice = "alloy" },
            },
            tools = tools ?? [],
        },
    };

    private static readonly object ReadFileTool = new
    {
        type = "function",
        name = "read_file",
        description = "Reads a file",
        parameters = new { type = "object", properties = new { path = new { type = "string" } }, required = new[] { "path" } },
    };

    [Fact]
    public async Task Connecting_without_the_key_is_refused_with_401_before_the_upgrade()
    {
        var exception = await Assert.ThrowsAsync<WebSocketException>(() => RealtimeSocket.ConnectAsync(_sim, apiKey: "wrong"));
        Assert.Contains("401", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_created_comes_first_and_session_update_is_answered_with_the_merged_GA_session()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "hi" } }""");
        await using var socket = await RealtimeSocket.ConnectAsync(_sim, Key);

        var created = await socket.WaitForAsync("session.created");
        Assert.Equal("realtime", (string?)created["session"]!["type"]);
        Assert.Equal(RealtimeSocket.Model, (string?)created["session"]!["model"]);
        Assert.Equal("audio/pcm", (string?)created["session"]!["audio"]!["input"]!["format"]!["type"]);

        await socket.SendAsync(SessionUpdate(tools: [ReadFileTool]));
        var updated = await socket.WaitForAsync("session.updated");
        var session = updated["session"]!;
        Assert.Equal("You are Artemis.", (string?)session["instructions"]);
        Assert.Equal(200, (int)session["audio"]!["input"]!["turn_detection"]!["silence_duration_ms"]!);
        // Merged, not replaced: fields the update did not name keep their values.
        Assert.Equal(300, (int)session["audio"]!["input"]!["turn_detection"]!["prefix_padding_ms"]!);
        Assert.Equal("read_file", (string?)session["tools"]![0]!["name"]);
        Assert.Equal(24000, (int)session["audio"]!["output"]!["format"]!["rate"]!);
    }

    [Fact]
    public async Task Speech_is_detected_committed_transcribed_and_answered_with_tone_audio_transcript_and_usage()
    {
        await _sim.ResetAsync("""
            {
              "steps": [ { "name": "greet", "match": { "lastRole": "user", "lastContentContains": "hello" },
                           "reply": { "content": "Hello there, how can I help?", "audioMs": 1000,
                                      "usage": { "promptTokens": 120, "inputAudioTokens": 30, "cachedTokens": 64, "completionTokens": 75, "outputAudioTokens": 50 } } } ],
              "realtime": { "userTranscripts": [ "hello artemis" ] }
            }
            """);
        await using var socket = await RealtimeSocket.ConnectAsync(_sim, Key);
        await socket.SendAsync(SessionUpdate());
        await socket.WaitForAsync("session.updated");

        await socket.AppendAsync(RealtimeSocket.Silence(100));
        await socket.AppendAsync(RealtimeSocket.Speech(600));
        await socket.AppendAsync(RealtimeSocket.Silence(300));

        var started = await socket.WaitForAsync("input_audio_buffer.speech_started");
        Assert.Equal(0, (int)started["audio_start_ms"]!); // 100 ms of silence minus 300 ms of prefix padding
        var stopped = await socket.WaitForAsync("input_audio_buffer.speech_stopped");
        Assert.Equal((string?)started["item_id"], (string?)stopped["item_id"]);
        Assert.Equal(900, (int)stopped["audio_end_ms"]!);
        var committed = await socket.WaitForAsync("input_audio_buffer.committed");
        Assert.Equal((string?)started["item_id"], (string?)committed["item_id"]);
        var transcript = await socket.WaitForAsync("conversation.item.input_audio_transcription.completed");
        Assert.Equal("hello artemis", (string?)transcript["transcript"]);

        var response = await socket.WaitForAsync("response.created");
        var responseId = (string?)response["response"]!["id"];
        var item = await socket.WaitForAsync("response.output_item.added");
        Assert.Equal("assistant", (string?)item["item"]!["role"]);
        var done = await socket.WaitForAsync("response.done");
        var audio = socket.Consumed.Where(e => (string?)e["type"] == "response.output_audio.delta").ToList();
        Assert.Equal(10, audio.Count); // 1000 ms in 100 ms deltas
        Assert.All(audio, delta => Assert.Equal(4800, Convert.FromBase64String((string)delta["delta"]!).Length));
        Assert.All(audio, delta => Assert.Equal(responseId, (string?)delta["response_id"]));
        var spoken = string.Concat(socket.Consumed.Where(e => (string?)e["type"] == "response.output_audio_transcript.delta").Select(e => (string?)e["delta"]));
        Assert.Equal("Hello there, how can I help?", spoken);
        Assert.Equal(spoken, (string?)socket.Consumed.Single(e => (string?)e["type"] == "response.output_audio_transcript.done")["transcript"]);

        Assert.Equal("completed", (string?)done["response"]!["status"]);
        var usage = done["response"]!["usage"]!;
        Assert.Equal(120, (int)usage["input_tokens"]!);
        Assert.Equal(75, (int)usage["output_tokens"]!);
        Assert.Equal(90, (int)usage["input_token_details"]!["text_tokens"]!);
        Assert.Equal(30, (int)usage["input_token_details"]!["audio_tokens"]!);
        Assert.Equal(64, (int)usage["input_token_details"]!["cached_tokens"]!);
        Assert.Equal(25, (int)usage["output_token_details"]!["text_tokens"]!);
        Assert.Equal(50, (int)usage["output_token_details"]!["audio_tokens"]!);

        var logged = (await _sim.RequestsAsync()).Where(e => e.GetProperty("path").GetString() == "/v1/realtime").ToList();
        var entry = Assert.Single(logged, e => e.GetProperty("realtime").GetProperty("event").GetString() == "response");
        Assert.Equal(responseId, entry.GetProperty("realtime").GetProperty("responseId").GetString());
        Assert.Equal("completed", entry.GetProperty("realtime").GetProperty("responseStatus").GetString());
        Assert.Equal(120, entry.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal("greet", entry.GetProperty("step").GetString());
    }

    [Fact]
    public async Task A_scripted_tool_call_ends_in_function_call_arguments_done_and_its_output_gets_the_next_reply()
    {
        await _sim.ResetAsync("""
            {
              "steps": [
                { "match": { "lastRole": "user", "lastContentContains": "readme" },
                  "reply": { "toolCalls": [ { "id": "call_rt1", "name": "read_file", "arguments": { "path": "README.md" } } ] } },
                { "match": { "lastRole": "tool", "lastContentContains": "Artemis" },
                  "reply": { "content": "The readme is about Artemis.", "audioMs": 300 } }
              ],
              "realtime": { "userTranscripts": [ "read the readme" ] }
            }
            """);
        await using var socket = await RealtimeSocket.ConnectAsync(_sim, Key);
        await socket.SendAsync(SessionUpdate(tools: [ReadFileTool]));
        await socket.WaitForAsync("session.updated");
        await socket.AppendAsync([.. RealtimeSocket.Speech(300), .. RealtimeSocket.Silence(300)]);

        var call = await socket.WaitForAsync("response.function_call_arguments.done");
        Assert.Equal("read_file", (string?)call["name"]);
        Assert.Equal("call_rt1", (string?)call["call_id"]);
        Assert.Equal("""{"path":"README.md"}""", (string?)call["arguments"]);
        await socket.WaitForAsync("response.done");

        await socket.SendAsync(new { type = "conversation.item.create", item = new { type = "function_call_output", call_id = "call_rt1", output = """{"content":"# Artemis"}""" } });
        await socket.WaitForAsync("conversation.item.added");
        await socket.SendAsync(new { type = "response.create" });
        var reply = await socket.WaitForAsync("response.output_audio_transcript.done");
        Assert.Equal("The readme is about Artemis.", (string?)reply["transcript"]);
        await socket.WaitForAsync("response.done");
    }

    [Fact]
    public async Task A_cancelled_response_reports_cancelled_with_the_usage_it_produced_and_truncate_is_confirmed_and_logged()
    {
        await _sim.ResetAsync("""
            { "steps": [], "fallback": { "content": "A long answer that takes two seconds to say.", "audioMs": 2000, "delayMs": 4000,
                                         "usage": { "promptTokens": 100, "completionTokens": 60, "outputAudioTokens": 40 } } }
            """);
        await using var socket = await RealtimeSocket.ConnectAsync(_sim, Key);
        await socket.SendAsync(SessionUpdate(createResponse: false));
        await socket.WaitForAsync("session.updated");
        await socket.SendAsync(new { type = "conversation.item.create", item = new { type = "message", role = "user", content = new[] { new { type = "input_text", text = "talk" } } } });
        await socket.SendAsync(new { type = "response.create" });
        var first = await socket.WaitForAsync("response.output_audio.delta");
        await socket.WaitForAsync("response.output_audio.delta");

        await socket.SendAsync(new { type = "response.create" });
        var busy = await socket.WaitForAsync("error");
        Assert.Equal("conversation_already_has_active_response", (string?)busy["error"]!["code"]);

        await socket.SendAsync(new { type = "response.cancel" });
        var done = await socket.WaitForAsync("response.done");
        Assert.Equal("cancelled", (string?)done["response"]!["status"]);
        Assert.Equal("client_cancelled", (string?)done["response"]!["status_details"]!["reason"]);
        var output = (int)done["response"]!["usage"]!["output_tokens"]!;
        Assert.InRange(output, 1, 59);

        await socket.SendAsync(new { type = "conversation.item.truncate", item_id = (string?)first["item_id"], content_index = 0, audio_end_ms = 150 });
        var truncated = await socket.WaitForAsync("conversation.item.truncated");
        Assert.Equal(150, (int)truncated["audio_end_ms"]!);

        await socket.SendAsync(new { type = "conversation.item.truncate", item_id = (string?)first["item_id"], content_index = 0, audio_end_ms = 5000 });
        Assert.Equal("invalid_value", (string?)(await socket.WaitForAsync("error"))["error"]!["code"]);

        var log = (await _sim.RequestsAsync()).Where(e => e.GetProperty("path").GetString() == "/v1/realtime").ToList();
        var truncate = log.First(e => e.GetProperty("realtime").GetProperty("event").GetString() == "conversation.item.truncate");
        Assert.Equal(150, truncate.GetProperty("realtime").GetProperty("clientEvent").GetProperty("audio_end_ms").GetInt32());
        var response = Assert.Single(log, e => e.GetProperty("realtime").GetProperty("event").GetString() == "response");
        Assert.True(response.GetProperty("cancelled").GetBoolean());
    }

    [Fact]
    public async Task Bad_client_events_get_an_error_event_and_the_session_carries_on()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "still here", "audioMs": 100 } }""");
        await using var socket = await RealtimeSocket.ConnectAsync(_sim, Key);
        await socket.WaitForAsync("session.created");

        await socket.SendTextAsync("{not json");
        Assert.Equal("invalid_json", (string?)(await socket.WaitForAsync("error"))["error"]!["code"]);
        await socket.SendAsync(new { type = "no.such.event", event_id = "evt_1" });
        var unknown = await socket.WaitForAsync("error");
        Assert.Equal("invalid_value", (string?)unknown["error"]!["code"]);
        Assert.Equal("evt_1", (string?)unknown["error"]!["event_id"]);
        await socket.SendAsync(new { type = "session.update", session = new { instructions = "no type" } });
        Assert.Equal("session.type", (string?)(await socket.WaitForAsync("error"))["error"]!["param"]);
        await socket.SendAsync(new { type = "session.update", session = new { type = "realtime", audio = new { input = new { format = new { type = "audio/pcm", rate = 16000 } } } } });
        Assert.Equal("session.audio.input.format", (string?)(await socket.WaitForAsync("error"))["error"]!["param"]);
        await socket.SendAsync(new { type = "input_audio_buffer.append", audio = Convert.ToBase64String(RealtimeSocket.Silence(40)) });
        await socket.SendAsync(new { type = "input_audio_buffer.commit" });
        Assert.Equal("input_audio_buffer_commit_empty", (string?)(await socket.WaitForAsync("error"))["error"]!["code"]);
        await socket.SendAsync(new { type = "response.cancel" });
        Assert.Equal("response_cancel_not_active", (string?)(await socket.WaitForAsync("error"))["error"]!["code"]);

        await socket.SendAsync(new { type = "response.create" });
        Assert.Equal("completed", (string?)(await socket.WaitForAsync("response.done"))["response"]!["status"]);
    }

    [Fact]
    public async Task A_plain_HTTP_request_to_the_realtime_endpoint_is_told_to_upgrade()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/realtime?model=gpt-realtime");
        request.Headers.Authorization = new("Bearer", Key);
        using var response = await _sim.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    internal static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();
}
