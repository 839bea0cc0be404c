using System.Threading.Channels;

namespace Artemis.Agents.Files;

/// <summary>An agent asked the user's browser to show a file (the <c>files.open_file</c> tool).</summary>
public sealed record FileOpenRequest(string WorkspaceRoot, string Path, string FullPath, DateTimeOffset RequestedAt);

/// <summary>
/// What the file tools tell the rest of the app. The web (and voice) side subscribes and shows the file; the tools
/// only publish, so an agent never waits on a browser.
/// </summary>
public interface IWorkspaceEvents
{
    void Publish(FileOpenRequest request);

    /// <summary>Receives every request published from now on, until the subscription is disposed.</summary>
    FileOpenSubscription Subscribe();
}

public sealed class FileOpenSubscription(ChannelReader<FileOpenRequest> reader, Action unsubscribe) : IDisposable
{
    public ChannelReader<FileOpenRequest> Reader { get; } = reader;

    public void Dispose() => unsubscribe();
}

/// <summary>
/// In-process fan-out of <see cref="FileOpenRequest"/>s: one bounded channel per subscriber, dropping the oldest when a
/// subscriber lags (a stale "open this file" is worthless, a blocked agent is worse). Also keeps the last few requests,
/// for a page that connects after the agent asked.
/// </summary>
public sealed class FileOpenRequests : IWorkspaceEvents
{
    private const int SubscriberCapacity = 64;
    private const int RecentCapacity = 32;

    private readonly Lock _gate = new();
    private readonly List<Channel<FileOpenRequest>> _subscribers = [];
    private readonly Queue<FileOpenRequest> _recent = new();

    public IReadOnlyList<FileOpenRequest> Recent
    {
        get
        {
            lock (_gate)
            {
                return [.. _recent];
            }
        }
    }

    public void Publish(FileOpenRequest request)
    {
        lock (_gate)
        {
            _recent.Enqueue(request);
            if (_recent.Count > RecentCapacity)
            {
                _recent.Dequeue();
            }

            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(request);
            }
        }
    }

    public FileOpenSubscription Subscribe()
    {
        var channel = Channel.CreateBounded<FileOpenRequest>(new BoundedChannelOptions(SubscriberCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            _subscribers.Add(channel);
        }

        return new FileOpenSubscription(channel.Reader, () =>
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        });
    }
}
