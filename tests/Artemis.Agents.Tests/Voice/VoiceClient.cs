using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.ServiceDefaults;

namespace Artemis.Agents.Tests.Voice;

/// <summary>A browser of the voice bridge: binary PCM16 frames up, JSON events and binary audio down.</summary>
public sealed class VoiceClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly List<JsonObject> _events = [];
    private int _seen;

    private VoiceClient(ClientWebSocket socket) => _socket = socket;

    /// <summary>Every JSON event received so far, in order.</summary>
    public IReadOnlyList<JsonObject> Events => _events;

    /// <summary>Bytes of assistant audio received.</summary>
    public long AudioBytes { get; private set; }

    /// <summary>Binary frames of assistant audio received.</summary>
    public int AudioFrames { get; private set; }

    public (WebSocketCloseStatus? Status, string? Reason)? Closed { get; private set; }

    public static async Task<VoiceClient> ConnectAsync(Uri bridge, string? apiKey, string? ticket = null)
    {
        var socket = new ClientWebSocket();
        if (apiKey is not null)
        {
            socket.Options.SetRequestHeader(ResourceNames.ApiKeyHeader, apiKey);
        }

        var uri = new UriBuilder(bridge) { Scheme = "ws", Path = "/api/voice", Query = ticket is null ? "" : "ticket=" + ticket }.Uri;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(uri, timeout.Token);
        return new VoiceClient(socket);
    }

    public async Task SendControlAsync(object message) => await SendTextAsync(JsonSerializer.Serialize(message));

    public async Task SendTextAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
    }

    public async Task SendBinaryAsync(byte[] frame)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(frame, WebSocketMessageType.Binary, true, timeout.Token);
    }

    /// <summary>Sends PCM16 in 20 ms frames (at <paramref name="sampleRate"/>), as the page's AudioWorklet does.</summary>
    public async Task SendAudioAsync(byte[] pcm, int sampleRate = 24_000)
    {
        var frame = sampleRate * 2 / 50;
        for (var offset = 0; offset < pcm.Length; offset += frame)
        {
            await SendBinaryAsync(pcm[offset..Math.Min(pcm.Length, offset + frame)]);
        }
    }

    /// <summary>Reads until an event of <paramref name="type"/> (matching <paramref name="where"/>) arrives; returns it.</summary>
    public async Task<JsonObject> WaitForAsync(string type, Func<JsonObject, bool>? where = null, int timeoutSeconds = 15)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (true)
        {
            for (; _seen < _events.Count; _seen++)
            {
                if ((string?)_events[_seen]["type"] == type && (where is null || where(_events[_seen])))
                {
                    return _events[_seen++];
                }
            }

            try
            {
                if (!await ReceiveOneAsync(timeout.Token))
                {
                    throw new WebSocketException($"Closed ({Closed?.Status}: {Closed?.Reason}) while waiting for '{type}'; events: {Types()}");
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No '{type}' within {timeoutSeconds} s; events: {Types()}");
            }
        }
    }

    /// <summary>Like <see cref="WaitForAsync"/>, but also finds an event that arrived before the last one waited for.</summary>
    public async Task<JsonObject> WaitForAnyAsync(string type, Func<JsonObject, bool>? where = null, int timeoutSeconds = 15)
    {
        var found = _events.FirstOrDefault(e => (string?)e["type"] == type && (where is null || where(e)));
        return found ?? await WaitForAsync(type, where, timeoutSeconds);
    }

    /// <summary>Reads until the bridge closes the session; returns its close status and reason.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Reason)> WaitForCloseAsync(int timeoutSeconds = 15)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (await ReceiveOneAsync(timeout.Token))
        {
        }

        return Closed!.Value;
    }

    /// <summary>Reads until <paramref name="bytes"/> of assistant audio have arrived.</summary>
    public async Task WaitForAudioAsync(long bytes, int timeoutSeconds = 15)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (AudioBytes < bytes)
        {
            if (!await ReceiveOneAsync(timeout.Token))
            {
                throw new WebSocketException($"Closed ({Closed?.Status}: {Closed?.Reason}) with {AudioBytes} of {bytes} audio bytes");
            }
        }
    }

    private async Task<bool> ReceiveOneAsync(CancellationToken cancellationToken)
    {
        if (Closed is not null)
        {
            return false;
        }

        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            try
            {
                result = await _socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException)
            {
                Closed = (null, "aborted");
                return false;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                Closed = (result.CloseStatus, result.CloseStatusDescription);
                return false;
            }

            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        if (result.MessageType == WebSocketMessageType.Binary)
        {
            AudioBytes += message.Length;
            AudioFrames++;
        }
        else
        {
            _events.Add(JsonNode.Parse(message.ToArray())!.AsObject());
        }

        return true;
    }

    private string Types() => string.Join(", ", _events.Select(e => (string?)e["type"]));

    /// <summary>A 440 Hz tone at a quarter of full scale: speech to the VAD.</summary>
    public static byte[] Speech(int ms, int sampleRate = 24_000)
    {
        var samples = ms * sampleRate / 1000;
        var bytes = new byte[samples * 2];
        for (var i = 0; i < samples; i++)
        {
            var value = (short)(Math.Sin(2 * Math.PI * 440 * i / sampleRate) * 0.25 * short.MaxValue);
            bytes[2 * i] = (byte)value;
            bytes[2 * i + 1] = (byte)(value >> 8);
        }

        return bytes;
    }

    public static byte[] Silence(int ms, int sampleRate = 24_000) => new byte[ms * sampleRate / 1000 * 2];

    /// <summary>One spoken turn: speech, then enough silence for the VAD (200 ms in the tests) to end it.</summary>
    public static byte[] Turn(int speechMs = 400, int sampleRate = 24_000) => [.. Speech(speechMs, sampleRate), .. Silence(400, sampleRate)];

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
                // The bridge may already have gone.
            }
        }

        _socket.Dispose();
    }
}
