namespace Artemis.Web.AgentsApi;

/// <summary>
/// The events of all recent cards, for the Live page. The Agents API streams events per card only
/// (<c>/api/cards/{id}/events</c>), so this follows one stream per card it finds by listing the newest
/// <see cref="NewestCards"/> cards and every card being worked on (Planning, Developing, Arbitrating) every
/// <see cref="PollInterval"/>, and keeps the newest <see cref="Capacity"/> events in memory.
/// </summary>
/// <remarks>
/// One instance per web process, shared by every browser watching: the Agents service sees one connection per card
/// however many people watch, not one per person and card. It starts with the first watcher. A card's stream is
/// closed once the card has finished (its last stage event arrived, or it has been listed as finished for
/// <see cref="FinishedGrace"/>); a stream that fails is reopened after the last event it delivered. Events without a
/// card (budget alerts) have no per-card stream and are not here: the Costs page lists the alerts.
/// </remarks>
public sealed class LiveEvents(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<LiveEvents> logger)
{
    public const int Capacity = 1_000;
    public const int NewestCards = 50;
    public const int MaxFollowed = 100;
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan FinishedGrace = TimeSpan.FromSeconds(30);

    private static readonly CardStage[] Working = [CardStage.Planning, CardStage.Developing, CardStage.Arbitrating];

    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, CardEvent> _events = [];
    private readonly Dictionary<string, Followed> _followed = [];
    private readonly Dictionary<string, long> _lastIds = [];
    private readonly HashSet<string> _done = [];
    private readonly Dictionary<string, string> _titles = [];
    private readonly List<Action> _watchers = [];
    private int _started;

    /// <summary>Why the cards could not be listed at the last try, or null.</summary>
    public string? Problem { get; private set; }

    /// <summary>How many cards' streams are open now.</summary>
    public int Following
    {
        get
        {
            lock (_lock)
            {
                return _followed.Count;
            }
        }
    }

    /// <summary>Calls <paramref name="changed"/> (on any thread) whenever events arrive; dispose to stop.</summary>
    public IDisposable Watch(Action changed)
    {
        lock (_lock)
        {
            _watchers.Add(changed);
        }

        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = PollAsync(lifetime.ApplicationStopping);
        }

        return new Watcher(this, changed);
    }

    /// <summary>The newest events first, of one kind or of all, at most <paramref name="max"/>.</summary>
    public IReadOnlyList<CardEvent> Latest(string? kind, int max)
    {
        lock (_lock)
        {
            return _events.Values.Reverse().Where(e => kind is null || e.Kind == kind).Take(max).ToList();
        }
    }

    public string? TitleOf(string? cardId)
    {
        lock (_lock)
        {
            return cardId is not null && _titles.TryGetValue(cardId, out var title) ? title : null;
        }
    }

    private async Task PollAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (AgentsApiException exception)
            {
                AgentsApiLog.LiveListFailed(logger, exception.Message);
                if (Problem != exception.Message)
                {
                    Problem = exception.Message;
                    Notify();
                }
            }

            try
            {
                await Task.Delay(PollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RefreshAsync(CancellationToken stopping)
    {
        var api = services.GetRequiredService<AgentsApiClient>();
        var lists = await Task.WhenAll(
            Working.Select(stage => api.ListCardsAsync(stage, MaxFollowed, stopping))
                .Prepend(api.ListCardsAsync(null, NewestCards, stopping)));
        var hadProblem = Problem is not null;
        Problem = null;

        var now = DateTimeOffset.UtcNow;
        var titlesChanged = false;
        var start = new List<(string CardId, long After, CancellationTokenSource Stop)>();
        lock (_lock)
        {
            foreach (var card in lists.SelectMany(list => list).DistinctBy(card => card.Id))
            {
                if (!_titles.TryGetValue(card.Id, out var title) || title != card.Title)
                {
                    _titles[card.Id] = card.Title;
                    titlesChanged = true;
                }

                if (_followed.TryGetValue(card.Id, out var followed))
                {
                    // Normally the stream ends itself at the card's last stage event; this is for a card whose
                    // finish came without one.
                    if (card.Stage.IsFinished() && now - followed.Since > FinishedGrace)
                    {
                        _done.Add(card.Id);
                        followed.Stop.Cancel();
                    }
                }
                else if (!_done.Contains(card.Id) && _followed.Count < MaxFollowed)
                {
                    var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                    _followed[card.Id] = new Followed(now, stop);
                    start.Add((card.Id, _lastIds.GetValueOrDefault(card.Id), stop));
                }
            }
        }

        foreach (var (cardId, after, stop) in start)
        {
            AgentsApiLog.LiveFollowing(logger, cardId);
            _ = FollowAsync(cardId, after, stop);
        }

        if (titlesChanged || hadProblem)
        {
            Notify();
        }
    }

    private async Task FollowAsync(string cardId, long after, CancellationTokenSource stop)
    {
        var count = 0;
        try
        {
            var streams = services.GetRequiredService<CardEventStreams>();
            await foreach (var item in streams.FollowAsync(cardId, after, stop.Token))
            {
                if (item.Event is not { } cardEvent)
                {
                    continue;
                }

                count++;
                Add(cardEvent);
                if (cardEvent.FinishesCard)
                {
                    lock (_lock)
                    {
                        _done.Add(cardId);
                    }

                    AgentsApiLog.LiveFinished(logger, cardId, count);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Finished, or the web is stopping.
        }
        catch (AgentsApiException exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            lock (_lock)
            {
                _done.Add(cardId);
            }
        }
        catch (Exception exception)
        {
            // Not marked done: the next poll opens the stream again after the last event it delivered.
            AgentsApiLog.LiveFollowFailed(logger, cardId, exception);
        }
        finally
        {
            lock (_lock)
            {
                _followed.Remove(cardId);
            }

            stop.Dispose();
        }
    }

    private void Add(CardEvent cardEvent)
    {
        lock (_lock)
        {
            if (cardEvent.CardId is not null)
            {
                _lastIds[cardEvent.CardId] = Math.Max(cardEvent.Id, _lastIds.GetValueOrDefault(cardEvent.CardId));
            }

            _events[cardEvent.Id] = cardEvent;
            while (_events.Count > Capacity)
            {
                _events.Remove(_events.Keys.First());
            }
        }

        Notify();
    }

    private void Notify()
    {
        Action[] watchers;
        lock (_lock)
        {
            watchers = [.. _watchers];
        }

        foreach (var watcher in watchers)
        {
            try
            {
                watcher();
            }
            catch (Exception exception) when (exception is ObjectDisposedException or InvalidOperationException)
            {
                // A page that is going away; it unsubscribes in its Dispose.
            }
        }
    }

    private sealed record Followed(DateTimeOffset Since, CancellationTokenSource Stop);

    private sealed class Watcher(LiveEvents owner, Action changed) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._watchers.Remove(changed);
            }
        }
    }
}
