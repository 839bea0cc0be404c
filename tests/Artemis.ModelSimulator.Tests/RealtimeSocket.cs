using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Artemis.ModelSimulator.Tests;

/// <summary>A raw WebSocket client of the simulator's realtime endpoint: send client events, wait for server events.</summary>
public sealed class RealtimeSocket : IAsyncDisposable
{
    public const string Model = "gpt-realtime";

    private readonly ClientWebSocket _socket;
    private readonly List<JsonObject> _received = [];

    private RealtimeSocket(ClientWebSocket socket) => _socket = socket;

    /// <summary>Every server event received so far, in order.</summary>
    public IReadOnlyList<JsonObject> Received => _received;

    public WebSocketState State => _socket.State;

    public static async Task<RealtimeSocket> ConnectAsync(SimulatorHost sim, string? apiKey, string model = Model)
    {
        var socket = new ClientWebSocket();
        if (apiKey is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + apiKey);
        }

        var uri = new UriBuilder(sim.BaseAddress) { Scheme = "ws", Path = "/v1/realtime", Query = "model=" + model }.Uri;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(uri, timeout.Token);
        return new RealtimeSocket(socket);
    }

    public Task SendAsync(object clientEvent) => SendTextAsync(JsonSerializer.Serialize(clientEvent));

    public async Task SendTextAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
    }

    /// <summary>Appends PCM16 as base64, in 20 ms events as a browser bridge would.</summary>
    public async Task AppendAsync(byte[] pcm)
    {
        const int Frame = 24_000 * 2 / 50;
        for (var offset = 0; offset < pcm.Length; offset += Frame)
        {
            var length = Math.Min(Frame, pcm.Length - offset);
            await SendAsync(new { type = "input_audio_buffer.append", audio = Convert.ToBase64String(pcm, offset, length) });
        }
    }

    /// <summary>Reads events until one of <paramref name="type"/> (matching <paramref name="where"/>) arrives.</summary>
    public async Task<JsonObject> WaitForAsync(string type, Func<JsonObject, bool>? where = null, int timeoutSeconds = 10)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var seen = _received.Count;
        var buffer = new byte[64 * 1024];
        while (true)
        {
            for (; seen < _received.Count; seen++)
            {
                if ((string?)_received[seen]["type"] == type && (where is null || where(_received[seen])))
                {
                    var found = _received[seen];
                    Consumed.AddRange(_received.Take(seen + 1));
                    _received.RemoveRange(0, seen + 1);
                    return found;
                }
            }

            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                try
                {
                    result = await _socket.ReceiveAsync(buffer, timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"No '{type}' within {timeoutSeconds} s; received: "
                        + string.Join(", ", _received.Select(e => (string?)e["type"])));
                }

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new WebSocketException($"Closed ({result.CloseStatus}: {result.CloseStatusDescription}) while waiting for '{type}'");
                }

                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            _received.Add(JsonNode.Parse(message.ToArray())!.AsObject());
        }
    }

    /// <summary>Events returned by <see cref="WaitForAsync"/> and everything before them, in order.</summary>
    public List<JsonObject> Consumed { get; } = [];

    public async Task<(WebSocketCloseStatus? Status, string? Description)> WaitForCloseAsync(int timeoutSeconds = 10)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (result.CloseStatus, result.CloseStatusDescription);
            }
        }
    }

    /// <summary>A 440 Hz tone of <paramref name="ms"/> milliseconds at a quarter of full scale: "speech" to the VAD.</summary>
    public static byte[] Speech(int ms) => Artemis.ModelSimulator.RealtimeAudio.Tone(0, ms * 24);

    public static byte[] Silence(int ms) => new byte[ms * 48];

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "test done", timeout.Token);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
                // The test may have left the server mid-stream.
            }
        }

        _socket.Dispose();
    }
}
