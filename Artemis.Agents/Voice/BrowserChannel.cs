using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Artemis.ServiceDefaults;

namespace Artemis.Agents.Voice;

/// <summary>
/// Everything sent to the browser goes through one bounded queue and one writer, so sends never overlap. The model
/// sends audio faster than real time, so a full queue first holds the bridge back (and with it the upstream read);
/// a queue that stays full for the stall timeout means the browser has stopped reading, and its session is ended
/// (the socket is aborted: a close frame could not get through either).
/// </summary>
internal sealed class BrowserChannel
{
    private readonly WebSocket _socket;
    private readonly Channel<Outbound> _queue;
    private readonly Action<string> _stalled;
    private readonly TimeSpan _stallTimeout;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeReason = "";
    private volatile bool _dead;

    public BrowserChannel(WebSocket socket, int capacity, TimeSpan stallTimeout, Action<string> stalled)
    {
        _socket = socket;
        _stalled = stalled;
        _stallTimeout = stallTimeout;
        _queue = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public ValueTask SendAudioAsync(byte[] pcm) => EnqueueAsync(new Outbound(pcm, WebSocketMessageType.Binary));

    public ValueTask SendEventAsync(JsonObject message) =>
        EnqueueAsync(new Outbound(Encoding.UTF8.GetBytes(message.ToJsonString(VoiceJson.Options)), WebSocketMessageType.Text));

    /// <summary>Ends the queue; the writer sends what is queued, then the close frame.</summary>
    public void Complete(WebSocketCloseStatus status, string reason)
    {
        _closeStatus = status;
        _closeReason = reason;
        _queue.Writer.TryComplete();
    }

    /// <summary>Writes until the queue is completed, then closes; aborts when the browser does not take a close in time.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        try
        {
            await foreach (var message in _queue.Reader.ReadAllAsync(abort))
            {
                await _socket.SendAsync(message.Payload, message.Type, true, abort);
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abort);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(_closeStatus, WebSocketCloseReasons.Truncate(_closeReason), timeout.Token);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException)
        {
            _dead = true;
            _socket.Abort();
        }
    }

    private async ValueTask EnqueueAsync(Outbound message)
    {
        if (_queue.Writer.TryWrite(message) || _dead)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_stallTimeout);
        try
        {
            await _queue.Writer.WriteAsync(message, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _dead = true;
            _stalled("the browser stopped reading: its send queue is full");
        }
        catch (ChannelClosedException)
        {
            // The session is closing: nothing more goes to the browser.
        }
    }

    private readonly record struct Outbound(byte[] Payload, WebSocketMessageType Type);
}
