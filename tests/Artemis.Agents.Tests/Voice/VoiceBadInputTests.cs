using System.Net.WebSockets;
using System.Text;
using Artemis.Agents.Voice;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.Agents.Tests.Voice;

/// <summary>Each kind of bad input ends the session that sent it, with a clear close reason; other sessions carry on.</summary>
[Collection(VoiceTestGroup.Name)]
public sealed class VoiceBadInputTests(VoiceFixture voice)
{
    private const string Script = """
        { "steps": [], "fallback": { "content": "Still here.", "audioMs": 200 }, "realtime": { "userTranscripts": [ "are you there" ] } }
        """;

    public static TheoryData<string, WebSocketCloseStatus, string> BadInputs => new()
    {
        { "odd-length audio frame", WebSocketCloseStatus.InvalidPayloadData, "audio frame of odd length" },
        { "oversized audio frame", WebSocketCloseStatus.MessageTooBig, "message too large" },
        { "malformed JSON", WebSocketCloseStatus.InvalidPayloadData, "malformed control message" },
        { "JSON that is not an object", WebSocketCloseStatus.InvalidPayloadData, "malformed control message" },
        { "unknown control type", WebSocketCloseStatus.InvalidPayloadData, "unknown control message type" },
        { "unsupported sample rate", WebSocketCloseStatus.InvalidPayloadData, "unsupported sample rate 1000" },
        { "start after audio", WebSocketCloseStatus.PolicyViolation, "'start' must come before any audio" },
        { "oversized control message", WebSocketCloseStatus.MessageTooBig, "control message too large" },
        { "malformed playback report", WebSocketCloseStatus.InvalidPayloadData, "malformed playback message" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_closes_only_its_own_session_with_a_clear_reason(string input, WebSocketCloseStatus expectedStatus, string expectedReason)
    {
        await voice.ResetAsync(Script);
        await using var bystander = await voice.ConnectAsync();
        await bystander.WaitForAsync("ready");
        await using var offender = await voice.ConnectAsync();
        await offender.WaitForAsync("ready");

        await SendAsync(offender, input);

        var (status, reason) = await offender.WaitForCloseAsync();
        Assert.Equal(expectedStatus, status);
        Assert.StartsWith(expectedReason, reason, StringComparison.Ordinal);

        // The other session still works end to end.
        await bystander.SendAudioAsync(VoiceClient.Turn());
        var answer = await bystander.WaitForAsync("transcript", e => (string?)e["role"] == "assistant");
        Assert.Equal("Still here.", (string?)answer["text"]);
    }

    [Fact]
    public async Task A_browser_that_stops_reading_is_cut_off_and_its_response_settled_while_others_carry_on()
    {
        await voice.ResetAsync("""
            { "steps": [ { "match": { "lastContentContains": "flood" }, "times": 1, "reply": { "content": "A very long answer.", "audioMs": 600000 } } ],
              "fallback": { "content": "Still here.", "audioMs": 200 },
              "realtime": { "userTranscripts": [ "flood me", "are you there" ] } }
            """);
        await using var bystander = await voice.ConnectAsync();
        await bystander.WaitForAsync("ready");
        await using var stalled = await voice.ConnectAsync();
        var id = (string)(await stalled.WaitForAsync("ready"))["sessionId"]!;

        // Speak, then never read again: ten minutes of audio pile up behind the send queue.
        await stalled.SendAudioAsync(VoiceClient.Turn());
        await PollAsync(async () => (await voice.RealtimeResponsesAsync()).Count == 1, TimeSpan.FromSeconds(10));
        var sessions = voice.Services.GetRequiredService<VoiceSessions>();
        var ended = await PollAsync(() => sessions.Ended.FirstOrDefault(s => s.Id == id), TimeSpan.FromSeconds(30));

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ended.Status);
        Assert.Equal("the browser stopped reading: its send queue is full", ended.Reason);
        var response = Assert.Single(await voice.RealtimeResponsesAsync());
        Assert.Single(await voice.LedgerAsync([(string)response["realtime"]!["responseId"]!]));

        await bystander.SendAudioAsync(VoiceClient.Turn());
        Assert.Equal("Still here.", (string?)(await bystander.WaitForAsync("transcript", e => (string?)e["role"] == "assistant"))["text"]);
    }

    [Fact]
    public async Task Audio_captured_at_48_kHz_is_resampled_to_24_kHz_and_understood()
    {
        await voice.ResetAsync(Script);
        await using var browser = await voice.ConnectAsync();
        await browser.WaitForAsync("ready");

        await browser.SendControlAsync(new { type = "start", sampleRate = 48000 });
        var started = await browser.WaitForAsync("started");
        Assert.Equal(24000, (int)started["resampledTo"]!);
        await browser.SendAudioAsync(VoiceClient.Turn(sampleRate: 48000), sampleRate: 48000);

        Assert.Equal("are you there", (string?)(await browser.WaitForAsync("transcript", e => (string?)e["role"] == "user"))["text"]);
        await browser.WaitForAsync("transcript", e => (string?)e["role"] == "assistant");
    }

    private static async Task SendAsync(VoiceClient client, string input)
    {
        switch (input)
        {
            case "odd-length audio frame":
                await client.SendBinaryAsync([1, 2, 3]);
                break;
            case "oversized audio frame":
                await client.SendBinaryAsync(new byte[VoiceFixture.MaxAudioFrameBytes + 2]);
                break;
            case "malformed JSON":
                await client.SendTextAsync("{\"type\": \"playback\", ");
                break;
            case "JSON that is not an object":
                await client.SendTextAsync("[1, 2, 3]");
                break;
            case "unknown control type":
                await client.SendControlAsync(new { type = "reboot" });
                break;
            case "unsupported sample rate":
                await client.SendControlAsync(new { type = "start", sampleRate = 1000 });
                break;
            case "start after audio":
                await client.SendBinaryAsync(VoiceClient.Silence(20));
                await client.SendControlAsync(new { type = "start", sampleRate = 48000 });
                break;
            case "oversized control message":
                await client.SendTextAsync("{\"type\":\"playback\",\"pad\":\"" + new string('x', 8 * 1024) + "\"}");
                break;
            case "malformed playback report":
                await client.SendControlAsync(new { type = "playback", playedMs = -5 });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input, null);
        }
    }

    private static async Task PollAsync(Func<Task<bool>> probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await probe())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold in time.");
            await Task.Delay(50);
        }
    }

    private static async Task<T> PollAsync<T>(Func<T?> probe, TimeSpan timeout)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value)
            {
                return value;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The condition did not hold in time.");
    }

    internal static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
