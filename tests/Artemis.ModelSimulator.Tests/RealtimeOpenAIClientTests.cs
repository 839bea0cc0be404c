using System.ClientModel;
using OpenAI.Realtime;

#pragma warning disable OPENAI002 // The realtime client is marked experimental in OpenAI 2.x.

namespace Artemis.ModelSimulator.Tests;

/// <summary>The official OpenAI .NET realtime client (GA protocol) talks to the simulator unchanged.</summary>
public sealed class RealtimeOpenAIClientTests(ApiKeySimulatorFixture fixture) : IClassFixture<ApiKeySimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    [Fact]
    public async Task OpenAI_RealtimeClient_gets_typed_session_audio_transcript_and_usage_updates()
    {
        await _sim.ResetAsync("""
            { "steps": [], "fallback": { "content": "Typed hello.", "audioMs": 200,
                                         "usage": { "promptTokens": 50, "inputAudioTokens": 20, "cachedTokens": 10, "completionTokens": 30, "outputAudioTokens": 4 } } }
            """);
        var client = new RealtimeClient(new ApiKeyCredential(ApiKeySimulatorFixture.Key), new RealtimeClientOptions { Endpoint = _sim.OpenAIEndpoint });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var session = await client.StartConversationSessionAsync(RealtimeSocket.Model, new RealtimeSessionClientOptions(), timeout.Token);

        await session.SendCommandAsync(BinaryData.FromString("""{"type":"session.update","session":{"type":"realtime","instructions":"typed"}}"""), null);
        await session.SendCommandAsync(BinaryData.FromString("""{"type":"response.create"}"""), null);

        var kinds = new List<Type>();
        var audioBytes = 0;
        RealtimeServerUpdateResponseDone? done = null;
        await foreach (var update in session.ReceiveUpdatesAsync(timeout.Token))
        {
            kinds.Add(update.GetType());
            switch (update)
            {
                case RealtimeServerUpdateResponseOutputAudioDelta audio:
                    audioBytes += audio.Delta.ToArray().Length;
                    break;
                case RealtimeServerUpdateResponseDone responseDone:
                    done = responseDone;
                    break;
            }

            if (done is not null)
            {
                break;
            }
        }

        Assert.Contains(typeof(RealtimeServerUpdateSessionCreated), kinds);
        Assert.Contains(typeof(RealtimeServerUpdateSessionUpdated), kinds);
        Assert.Contains(typeof(RealtimeServerUpdateResponseOutputAudioTranscriptDone), kinds);
        Assert.Equal(200 * 48, audioBytes);
        var usage = done!.Response.Usage;
        Assert.Equal(50, usage.InputTokenCount);
        Assert.Equal(30, usage.OutputTokenCount);
        Assert.Equal(20, usage.InputTokenDetails.AudioTokenCount);
        Assert.Equal(30, usage.InputTokenDetails.TextTokenCount);
        Assert.Equal(10, usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(4, usage.OutputTokenDetails.AudioTokenCount);
        Assert.Equal(RealtimeResponseStatus.Completed, done.Response.Status);
    }
}
