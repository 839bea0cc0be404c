using System.Threading.Channels;

namespace Artemis.Agents.Voice;

/// <summary>
/// Cards asked for by voice. The cards API is built elsewhere; until it is wired here, requests are published on this
/// channel (a reader creates the card) and the newest are kept for inspection.
/// </summary>
public sealed class VoiceCardRequests
{
    private const int Kept = 100;

    private readonly Channel<VoiceCardRequest> _requests = Channel.CreateBounded<VoiceCardRequest>(
        new BoundedChannelOptions(Kept) { FullMode = BoundedChannelFullMode.DropOldest });

    private readonly Lock _gate = new();
    private readonly Queue<VoiceCardRequest> _recent = new();

    public ChannelReader<VoiceCardRequest> Reader => _requests.Reader;

    public IReadOnlyList<VoiceCardRequest> Recent
    {
        get
        {
            lock (_gate)
            {
                return [.. _recent];
            }
        }
    }

    public void Publish(VoiceCardRequest request)
    {
        lock (_gate)
        {
            _recent.Enqueue(request);
            while (_recent.Count > Kept)
            {
                _recent.Dequeue();
            }
        }

        _requests.Writer.TryWrite(request);
    }
}
