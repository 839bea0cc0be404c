using System.Net.Http.Json;
using System.Net.WebSockets;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Voice;
using Artemis.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Artemis.Agents.Tests.Voice;

/// <summary>The browser ↔ bridge ↔ realtime model path, end to end on loopback, priced on real Redis and PostgreSQL.</summary>
[Collection(VoiceTestGroup.Name)]
public sealed class VoiceBridgeTests(VoiceFixture voice)
{
    [Fact]
    public async Task A_session_is_configured_upstream_with_the_GA_session_and_the_browser_is_told_it_is_ready()
    {
        await voice.ResetAsync("""{ "steps": [], "fallback": { "content": "hi" } }""");
        await using var browser = await voice.ConnectAsync();

        var ready = await browser.WaitForAsync("ready");
        Assert.StartsWith("voice_", (string?)ready["sessionId"], StringComparison.Ordinal);
        Assert.Equal(24000, (int)ready["sampleRate"]!);

        var update = Assert.Single(await voice.RealtimeLogAsync(), e => (string?)e["realtime"]!["event"] == "session.update");
        var session = update["realtime"]!["clientEvent"]!["session"]!;
        Assert.Equal("realtime", (string?)session["type"]);
        Assert.Equal("audio/pcm", (string?)session["audio"]!["input"]!["format"]!["type"]);
        Assert.Equal(24000, (int)session["audio"]!["output"]!["format"]!["rate"]!);
        Assert.Equal("server_vad", (string?)session["audio"]!["input"]!["turn_detection"]!["type"]);
        Assert.False((bool)session["audio"]!["input"]!["turn_detection"]!["create_response"]!);
        Assert.False((bool)session["audio"]!["input"]!["turn_detection"]!["interrupt_response"]!);
        Assert.Equal(1000, (int)session["max_output_tokens"]!);
        Assert.Equal(["read_file", "list_dir", "open_file", "create_card"], session["tools"]!.AsArray().Select(t => (string?)t!["name"]));
    }

    [Fact]
    public async Task Audio_round_trip_speech_in_gives_both_transcripts_and_the_assistants_audio_out()
    {
        await voice.ResetAsync("""
            { "steps": [ { "match": { "lastContentContains": "hello artemis" }, "reply": { "content": "Hi, I am Artemis.", "audioMs": 500 } } ],
              "realtime": { "userTranscripts": [ "hello artemis" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");

        await browser.SendAudioAsync(VoiceClient.Turn());

        await browser.WaitForAsync("speech_started");
        var user = await browser.WaitForAsync("transcript", e => (string?)e["role"] == "user");
        Assert.Equal("hello artemis", (string?)user["text"]);
        var start = await browser.WaitForAsync("audio_start");
        var assistant = await browser.WaitForAsync("transcript", e => (string?)e["role"] == "assistant");
        Assert.Equal("Hi, I am Artemis.", (string?)assistant["text"]);
        Assert.Equal((string?)start["itemId"], (string?)assistant["itemId"]);
        await browser.WaitForAsync("usage");
        Assert.Equal(500 * 48, browser.AudioBytes); // 500 ms of PCM16 at 24 kHz, as binary frames
        Assert.Equal(5, browser.AudioFrames);
    }

    [Fact]
    public async Task The_speech_recognition_of_the_user_s_words_is_priced_from_its_usage_once_and_its_reservation_given_back()
    {
        await voice.ResetAsync("""
            { "steps": [], "fallback": { "content": "Noted.", "audioMs": 300 }, "realtime": { "userTranscripts": [ "price my words" ] } }
            """);
        string session;
        await using (var browser = await voice.ConnectAsync())
        {
            session = (string)(await browser.WaitForAsync("ready"))["sessionId"]!;
            await browser.SendAudioAsync(VoiceClient.Turn());
            Assert.Equal("price my words", (string?)(await browser.WaitForAsync("transcript", e => (string?)e["role"] == "user"))["text"]);
            await browser.WaitForAsync("usage");
        }

        var row = Assert.Single(await TranscriptionRowsAsync(session));
        Assert.Equal(("gpt-4o-mini-transcribe", "voice", false), (row.Model, row.Stage, row.Estimated));
        // The simulator: input = audio tokens = ceil(committed ms / 100), output = ceil(14 characters / 4) + 1.
        Assert.True(row.AudioInputTokens > 0);
        Assert.Equal(row.InputTokens, row.AudioInputTokens);
        Assert.Equal(5, row.OutputTokens);
        Assert.Equal((row.AudioInputTokens * 3.00m + 5 * 5.00m) / 1_000_000m, row.Usd);

        // Nothing of the session stays reserved once it has ended.
        var guard = voice.Services.GetRequiredService<BudgetGuard>();
        var day = voice.Services.GetRequiredService<BudgetWindows>().For(null)[0];
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await guard.StateAsync(day)).ReservedUsd != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0m, (await guard.StateAsync(day)).ReservedUsd);
    }

    [Fact]
    public async Task A_tool_call_reads_a_workspace_file_and_the_model_answers_from_its_content()
    {
        await voice.ResetAsync("""
            { "steps": [
                { "match": { "lastRole": "user", "lastContentContains": "readme" },
                  "reply": { "toolCalls": [ { "id": "call_readme", "name": "read_file", "arguments": { "path": "README.md" } } ] } },
                { "match": { "lastRole": "tool", "lastContentContains": "Hello from the workspace" },
                  "reply": { "content": "The readme says hello.", "audioMs": 200 } } ],
              "realtime": { "userTranscripts": [ "read the readme" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");

        await browser.SendAudioAsync(VoiceClient.Turn());

        var call = await browser.WaitForAsync("tool_call");
        Assert.Equal("read_file", (string?)call["name"]);
        var result = await browser.WaitForAsync("tool_result");
        Assert.Contains("Hello from the workspace", (string?)result["output"], StringComparison.Ordinal);
        var answer = await browser.WaitForAsync("transcript", e => (string?)e["role"] == "assistant");
        Assert.Equal("The readme says hello.", (string?)answer["text"]);

        var responses = await voice.RealtimeResponsesAsync();
        Assert.Equal(2, responses.Count);
        Assert.Contains("Hello from the workspace", responses[1]["messages"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_file_shows_the_file_in_the_page_and_create_card_queues_a_real_card()
    {
        await voice.ResetAsync("""
            { "steps": [
                { "match": { "lastRole": "user" },
                  "reply": { "toolCalls": [ { "id": "call_open", "name": "open_file", "arguments": { "path": "docs/notes.txt" } },
                                            { "id": "call_card", "name": "create_card", "arguments": { "title": "Add a test", "description": "for notes", "testCommand": "make test", "workspace": "docs" } } ] } },
                { "match": { "lastRole": "tool" }, "reply": { "content": "Done.", "audioMs": 100 } } ],
              "realtime": { "userTranscripts": [ "show the notes and make a card" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");

        await browser.SendAudioAsync(VoiceClient.Turn());

        var open = await browser.WaitForAsync("open_file");
        Assert.Equal("docs/notes.txt", (string?)open["path"]);
        Assert.Equal("notes", (string?)open["content"]);
        var created = await browser.WaitForAsync("card_created");
        await browser.WaitForAsync("transcript", e => (string?)e["role"] == "assistant");
        var card = await voice.Services.GetRequiredService<CardStore>().GetAsync((string)created["id"]!, CancellationToken.None);
        Assert.Equal("Add a test", card.Title);
        Assert.Equal("make test", card.TestCommand);
        Assert.EndsWith("/docs", card.Workspace, StringComparison.Ordinal);
        var result = await browser.WaitForAnyAsync("tool_result", e => (string?)e["name"] == "create_card");
        Assert.Contains(card.Id, (string?)result["output"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Barge_in_cancels_the_response_truncates_the_item_at_what_the_browser_played_and_flushes_the_page()
    {
        await voice.ResetAsync("""
            { "steps": [ { "match": { "lastContentContains": "first" }, "reply": { "content": "A long answer that keeps going.", "audioMs": 4000, "delayMs": 8000 } } ],
              "fallback": { "content": "Yes?", "audioMs": 100 },
              "realtime": { "userTranscripts": [ "first question", "stop" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");
        await browser.SendAudioAsync(VoiceClient.Turn());
        var start = await browser.WaitForAsync("audio_start");
        var itemId = (string)start["itemId"]!;
        await browser.WaitForAudioAsync(500 * 48);

        await browser.SendControlAsync(new { type = "playback", itemId, playedMs = 250 });
        await browser.SendAudioAsync(VoiceClient.Turn());

        var flush = await browser.WaitForAsync("flush");
        Assert.Equal(itemId, (string?)flush["itemId"]);
        Assert.Equal(250, (int)flush["playedMs"]!);
        var truncated = await browser.WaitForAsync("truncated");
        Assert.Equal(250, (int)truncated["audioEndMs"]!);
        await browser.WaitForAnyAsync("usage", e => (string?)e["status"] == "cancelled");

        var log = await voice.RealtimeLogAsync();
        var truncate = Assert.Single(log, e => (string?)e["realtime"]!["event"] == "conversation.item.truncate");
        Assert.Equal(itemId, (string?)truncate["realtime"]!["clientEvent"]!["item_id"]);
        Assert.Equal(250, (int)truncate["realtime"]!["clientEvent"]!["audio_end_ms"]!);
        Assert.Equal(0, (int)truncate["realtime"]!["clientEvent"]!["content_index"]!);
        Assert.Single(log, e => (string?)e["realtime"]!["event"] == "response.cancel");
        Assert.Equal("cancelled", (string?)(await voice.RealtimeResponsesAsync())[0]["realtime"]!["responseStatus"]);
    }

    [Fact]
    public async Task Every_response_is_one_ledger_row_priced_exactly_with_text_audio_and_cached_tokens_apart()
    {
        // 1000 input = 600 text + 400 audio; 700 cached = all 600 text + 100 audio; 500 output = 200 text + 300 audio.
        await voice.ResetAsync("""
            { "steps": [], "fallback": { "content": "Priced.", "audioMs": 100,
                "usage": { "promptTokens": 1000, "inputAudioTokens": 400, "cachedTokens": 700, "completionTokens": 500, "outputAudioTokens": 300 } },
              "realtime": { "userTranscripts": [ "one", "two" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        var session = (string)(await browser.WaitForAsync("ready"))["sessionId"]!;

        await browser.SendAudioAsync(VoiceClient.Turn());
        var first = await browser.WaitForAsync("usage");
        await browser.SendAudioAsync(VoiceClient.Turn());
        var second = await browser.WaitForAsync("usage");

        // gpt-realtime per 1M: text in 4.00, cached 0.40, audio in 32.00, text out 16.00, audio out 64.00.
        // 0 uncached text × 4 + 700 cached × 0.40 + 300 uncached audio × 32 + 200 text out × 16 + 300 audio out × 64
        const decimal Expected = (0 * 4.00m + 700 * 0.40m + 300 * 32.00m + 200 * 16.00m + 300 * 64.00m) / 1_000_000m;
        Assert.Equal(0.03228m, Expected);
        Assert.Equal(Expected, (decimal)first["usd"]!);
        // The session's spend is its responses and the transcriptions of its two utterances (priced on their own rows).
        var transcriptions = await TranscriptionRowsAsync(session);
        Assert.Equal(2, transcriptions.Count);
        Assert.Equal(2 * Expected + transcriptions.Sum(row => row.Usd), (decimal)second["sessionUsd"]!);

        var responses = await voice.RealtimeResponsesAsync();
        Assert.Equal(2, responses.Count);
        var rows = await voice.LedgerAsync(responses.Select(r => (string)r["realtime"]!["responseId"]!));
        Assert.Equal(responses.Count, rows.Count);
        Assert.All(rows, row =>
        {
            Assert.Equal(Expected, row.Usd);
            Assert.Equal(VoiceFixture.RealtimeModel, row.Model);
            Assert.Equal(("voice", "voice"), (row.Stage, row.Agent));
            Assert.Equal((1000, 700, 500, 300, 300), (row.InputTokens, row.CachedInputTokens, row.OutputTokens, row.AudioInputTokens, row.AudioOutputTokens));
            Assert.False(row.Estimated);
        });

        // Audio sent after the last commit (the turn's trailing silence) stays reserved for its transcription until
        // it is committed or the session ends: nothing is left once the browser has gone.
        await browser.DisposeAsync();
        await AssertNothingReservedAsync();
    }

    [Fact]
    public async Task A_session_is_refused_at_connect_when_the_budget_cannot_pay_for_one_response()
    {
        await voice.ResetAsync("""{ "steps": [], "fallback": { "content": "never" } }""");
        await using (await voice.ExhaustBudgetAsync())
        {
            await using var browser = await voice.ConnectAsync();

            var error = await browser.WaitForAsync("error");
            Assert.Equal("budget_exhausted", (string?)error["code"]);
            var (status, reason) = await browser.WaitForCloseAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.StartsWith("budget exhausted", reason, StringComparison.Ordinal);
        }

        Assert.Empty(await voice.RealtimeResponsesAsync());
    }

    [Fact]
    public async Task A_session_whose_budget_runs_out_is_ended_cleanly_before_the_next_response_is_asked_for()
    {
        await voice.ResetAsync("""{ "steps": [], "fallback": { "content": "never" }, "realtime": { "userTranscripts": [ "hi" ] } }""");
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");

        // Enough to transcribe the utterance (≈ $0.005 worst case), not for a response (≈ $0.07).
        await using (await voice.ExhaustBudgetAsync(leaveUsd: 0.02m))
        {
            await browser.SendAudioAsync(VoiceClient.Turn());
            var (status, reason) = await browser.WaitForCloseAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.StartsWith("budget exhausted", reason, StringComparison.Ordinal);
            Assert.EndsWith("cannot pay for another response", reason, StringComparison.Ordinal);
        }

        Assert.Contains(browser.Events, e => (string?)e["type"] == "error" && (string?)e["code"] == "budget_exhausted");
        Assert.Empty(await voice.RealtimeResponsesAsync());
        await AssertNothingReservedAsync();
    }

    [Fact]
    public async Task Audio_whose_transcription_the_budget_cannot_pay_for_is_not_sent_and_the_session_ends_cleanly()
    {
        await voice.ResetAsync("""{ "steps": [], "fallback": { "content": "never" }, "realtime": { "userTranscripts": [ "hi" ] } }""");
        await using var browser = await voice.ConnectAsync();
        var ready = await browser.WaitForAsync("ready");
        var session = (string)ready["sessionId"]!;

        await using (await voice.ExhaustBudgetAsync())
        {
            await browser.SendAudioAsync(VoiceClient.Turn());
            var (status, reason) = await browser.WaitForCloseAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.StartsWith("budget exhausted", reason, StringComparison.Ordinal);
            Assert.EndsWith("cannot pay for transcribing more audio", reason, StringComparison.Ordinal);
        }

        Assert.Contains(browser.Events, e => (string?)e["type"] == "error" && (string?)e["code"] == "budget_exhausted");
        // The audio never reached the model: nothing was transcribed (the simulator's script has a transcript ready) or answered.
        Assert.DoesNotContain(browser.Events, e => (string?)e["type"] == "transcript");
        Assert.Empty(await TranscriptionRowsAsync(session));
        Assert.Empty(await voice.RealtimeResponsesAsync());
        await AssertNothingReservedAsync();
    }

    [Fact]
    public async Task A_long_utterance_is_reserved_step_by_step_as_it_is_sent_and_priced_once()
    {
        await voice.ResetAsync("""
            { "steps": [], "fallback": { "content": "Heard you.", "audioMs": 100 },
              "realtime": { "userTranscripts": [ "a long story" ] } }
            """);
        await using var browser = await voice.ConnectAsync();
        var ready = await browser.WaitForAsync("ready");
        var session = (string)ready["sessionId"]!;

        // 12 s of speech: three reservation steps of 5 s, all made before the audio they cover was sent.
        await browser.SendAudioAsync(VoiceClient.Turn(speechMs: 12_000));
        await browser.WaitForAsync("transcript", e => (string?)e["role"] == "user", timeoutSeconds: 30);
        await browser.WaitForAsync("usage", timeoutSeconds: 30);

        var row = Assert.Single(await TranscriptionRowsAsync(session));
        Assert.False(row.Estimated);
        await browser.DisposeAsync();
        await AssertNothingReservedAsync();
    }

    private async Task AssertNothingReservedAsync()
    {
        var guard = voice.Services.GetRequiredService<BudgetGuard>();
        foreach (var window in voice.Services.GetRequiredService<BudgetWindows>().For(null))
        {
            // Released when the session's end is handled, just after the close the test saw or made.
            for (var tries = 0; (await guard.StateAsync(window)).ReservedUsd != 0m && tries < 100; tries++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(0m, (await guard.StateAsync(window)).ReservedUsd);
        }
    }

    [Fact]
    public async Task A_browser_opens_the_socket_with_a_single_use_ticket_and_never_with_nothing()
    {
        await voice.ResetAsync("""{ "steps": [], "fallback": { "content": "hi" } }""");
        using var http = new HttpClient { BaseAddress = voice.BridgeAddress };
        http.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, VoiceFixture.ApiKey);
        var ticket = (await (await http.PostAsync("api/voice/tickets", null)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<VoiceTicketResponse>())!;

        await using (var browser = await VoiceClient.ConnectAsync(voice.BridgeAddress, apiKey: null, ticket: ticket.Ticket))
        {
            await browser.WaitForAsync("ready");
        }

        var reused = await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(voice.BridgeAddress, apiKey: null, ticket: ticket.Ticket));
        Assert.Contains("401", reused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(voice.BridgeAddress, apiKey: null));
        await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(voice.BridgeAddress, apiKey: "wrong-key-wrong-key"));
        using var anonymous = new HttpClient { BaseAddress = voice.BridgeAddress };
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.PostAsync("api/voice/tickets", null)).StatusCode);
    }

    [Fact]
    public async Task Stopping_the_service_closes_open_sessions_with_going_away_and_settles_the_response_in_flight()
    {
        await voice.ResetAsync("""
            { "steps": [], "fallback": { "content": "A long answer, cut by the shutdown.", "audioMs": 4000, "delayMs": 8000,
                                         "usage": { "promptTokens": 100, "completionTokens": 400, "outputAudioTokens": 300 } },
              "realtime": { "userTranscripts": [ "talk" ] } }
            """);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (app, address) = await voice.StartBridgeAsync(timeout.Token);
        try
        {
            await using var browser = await VoiceClient.ConnectAsync(address, VoiceFixture.ApiKey);
            await browser.WaitForAsync("ready");
            await browser.SendAudioAsync(VoiceClient.Turn());
            await browser.WaitForAudioAsync(300 * 48);

            var stopping = app.StopAsync(timeout.Token);
            var (status, reason) = await browser.WaitForCloseAsync();
            await stopping;

            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status); // 1001, going away
            Assert.Equal(VoiceSessions.ShutdownReason, reason);
            var response = Assert.Single(await voice.RealtimeResponsesAsync());
            Assert.Equal("cancelled", (string?)response["realtime"]!["responseStatus"]);
            var row = Assert.Single(await voice.LedgerAsync([(string)response["realtime"]!["responseId"]!]));
            Assert.False(row.Estimated);
            Assert.Equal((long)response["usage"]!["output_tokens"]!, row.OutputTokens);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>The ledger rows of a session's input transcriptions (their call ids carry the session id).</summary>
    private async Task<List<VoiceLedgerRow>> TranscriptionRowsAsync(string session)
    {
        await voice.Services.GetRequiredService<CostLedger>().DrainAsync(CancellationToken.None);
        await using var command = voice.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT call_id FROM cost_entries WHERE starts_with(call_id, $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = $"voice-transcription-{session}-" });
        var ids = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
        }

        return await voice.LedgerAsync(ids);
    }
}
