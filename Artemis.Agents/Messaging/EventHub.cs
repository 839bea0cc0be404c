using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Messaging;

/// <summary>
/// Live events for every reader in this process from one follower of the Redis stream: the stream is read and each
/// entry parsed once, then handed to the subscribers of its card (and to those of every card), however many SSE
/// connections are open. Without it each connection ran its own <see cref="EventReader.FollowAsync"/> over the whole
/// stream, so N connections read the stream N times (bench/results/events.md).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="FollowAsync"/> has <see cref="EventReader.FollowAsync"/>'s contract: every event after the given id, the
/// stored ones then the live ones, in id order, each once. A subscriber registers <em>before</em> it reads Postgres,
/// and the follower's position is fixed before any subscriber reads: an event the follower handed out before the
/// registration was committed before it, so the Postgres read has it; any later one reaches the subscriber's queue.
/// Overlap between the two is dropped by id, as ids only grow in the stream.
/// </para>
/// <para>
/// A subscriber's queue is bounded (<see cref="MessagingOptions.SubscriberQueueLength"/>). When a slow reader's queue is
/// full the follower stops queueing for it and marks it; the reader, once it has taken what is queued, clears the
/// mark and catches up from Postgres, where every event the follower skipped already is. A slow client costs the
/// follower nothing and never holds up the others.
/// </para>
/// </remarks>
public sealed class EventHub(EventReader reader, IOptions<MessagingOptions> options, ILogger<EventHub> logger) : IAsyncDisposable
{
    private readonly int _queueLength = options.Value.SubscriberQueueLength;
    private readonly int _batch = options.Value.ReadBatchSize;
    private readonly TimeSpan _restartDelay = TimeSpan.FromMilliseconds(options.Value.PollMilliseconds);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Subscriber>> _byCard = [];
    private readonly List<Subscriber> _allCards = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _positioned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _follower;

    /// <summary>How many readers of <paramref name="cardId"/> (null: of every card) are subscribed now.</summary>
    public int SubscribersOf(string? cardId)
    {
        lock (_lock)
        {
            return cardId is null ? _allCards.Count : _byCard.GetValueOrDefault(cardId)?.Count ?? 0;
        }
    }

    /// <summary>
    /// Every event of <paramref name="cardId"/> (null: of every card) after <paramref name="after"/>, first the stored
    /// ones, then live ones as they are published, until <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<CardEvent> FollowAsync(string? cardId, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var subscriber = new Subscriber(cardId, _queueLength);
        Register(subscriber);
        try
        {
            await StartAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                // Catch up from Postgres: at the start, and whenever the queue overflowed. The mark is cleared first,
                // so an event skipped after this point was committed before the read below.
                subscriber.Overflowed = false;
                IReadOnlyList<CardEvent> stored;
                do
                {
                    stored = await reader.StoredAsync(cardId, after, _batch, cancellationToken);
                    foreach (var item in stored)
                    {
                        after = item.Id;
                        yield return item;
                    }
                }
                while (stored.Count == _batch);

                // Live, until the queue overflows.
                while (true)
                {
                    while (subscriber.Queue.Reader.TryRead(out var item))
                    {
                        if (item.Id > after)
                        {
                            after = item.Id;
                            yield return item;
                        }
                    }

                    // Nothing queued now; once marked, nothing is queued either until the mark is cleared.
                    if (subscriber.Overflowed)
                    {
                        MessagingLog.SubscriberCatchingUp(logger, cardId ?? "(every card)", after);
                        break;
                    }

                    if (!await WaitToReadAsync(subscriber, cancellationToken))
                    {
                        yield break;
                    }
                }
            }
        }
        finally
        {
            Unregister(subscriber);
        }
    }

    private static async Task<bool> WaitToReadAsync(Subscriber subscriber, CancellationToken cancellationToken)
    {
        try
        {
            return await subscriber.Queue.Reader.WaitToReadAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Starts the follower with the first subscriber and waits until its position is fixed.</summary>
    private async Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _follower ??= Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        await _positioned.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        long position = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (!_positioned.Task.IsCompleted)
                {
                    // Events up to here are in Postgres for every subscriber's own catch-up; the follower hands out
                    // the ones after it.
                    position = await reader.NewestIdAsync(stopping);
                    _positioned.TrySetResult();
                }

                await foreach (var item in reader.FollowAsync(null, position, stopping))
                {
                    position = item.Id;
                    Dispatch(item);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                // Postgres unreachable, most likely: subscribers keep waiting; the follower starts again after the last
                // event it handed out, so nothing is skipped.
                MessagingLog.FollowerFailed(logger, position, exception);
                try
                {
                    await Task.Delay(_restartDelay, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private void Dispatch(CardEvent item)
    {
        lock (_lock)
        {
            if (item.CardId is { } card && _byCard.TryGetValue(card, out var subscribers))
            {
                Offer(subscribers, item);
            }

            Offer(_allCards, item);
        }
    }

    private static void Offer(List<Subscriber> subscribers, CardEvent item)
    {
        foreach (var subscriber in subscribers)
        {
            if (!subscriber.Overflowed && !subscriber.Queue.Writer.TryWrite(item))
            {
                subscriber.Overflowed = true;
            }
        }
    }

    private void Register(Subscriber subscriber)
    {
        lock (_lock)
        {
            if (subscriber.CardId is null)
            {
                _allCards.Add(subscriber);
            }
            else if (_byCard.TryGetValue(subscriber.CardId, out var list))
            {
                list.Add(subscriber);
            }
            else
            {
                _byCard[subscriber.CardId] = [subscriber];
            }
        }
    }

    private void Unregister(Subscriber subscriber)
    {
        lock (_lock)
        {
            if (subscriber.CardId is null)
            {
                _allCards.Remove(subscriber);
            }
            else if (_byCard.TryGetValue(subscriber.CardId, out var list) && list.Remove(subscriber) && list.Count == 0)
            {
                _byCard.Remove(subscriber.CardId);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task? follower;
        lock (_lock)
        {
            follower = _follower;
            // Readers still subscribed end as their queues run dry.
            foreach (var subscriber in _allCards.Concat(_byCard.Values.SelectMany(list => list)))
            {
                subscriber.Queue.Writer.TryComplete();
            }
        }

        if (follower is not null)
        {
            await follower;
        }

        _stop.Dispose();
    }

    private sealed class Subscriber(string? cardId, int queueLength)
    {
        public string? CardId { get; } = cardId;

        public Channel<CardEvent> Queue { get; } = Channel.CreateBounded<CardEvent>(new BoundedChannelOptions(queueLength)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the follower never waits
        });

        private volatile bool _overflowed;

        /// <summary>Set by the follower when the queue was full; cleared by the reader before it reads Postgres.</summary>
        public bool Overflowed
        {
            get => _overflowed;
            set => _overflowed = value;
        }
    }
}
