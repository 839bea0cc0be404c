using System.Text.Json;

namespace Artemis.Web.AgentsApi;

/// <summary>
/// Every recent event, for the Live page: one stream of <c>GET /api/events</c> that begins with the newest
/// <see cref="Capacity"/> stored events and then goes on live, reopened after the last event it delivered when it
/// drops. The newest <see cref="Capacity"/> events are kept in memory, events of no card (budget alerts) included.
/// </summary>
/// <remarks>
/// One instance per web process, shared by every browser watching: the Agents service sees one connection however
/// many people watch. It starts with the first watcher. Card titles come from the <c>card.created</c> events; a card
/// created before the window is looked up once.
/// </remarks>
public sealed class LiveEvents(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<LiveEvents> logger)
{
    public const int Capacity = 1_000;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, CardEvent> _events = [];
    private readonly Dictionary<string, string> _titles = [];
    private readonly HashSet<string> _lookedUp = [];
    private readonly List<Action> _watchers = [];
    private int _started;

    /// <summary>Why the stream is not live now (it dropped and is being reopened), or null.</summary>
    public string? Problem { get; private set; }

    /// <summary>Whether the stream is open.</summary>
    public bool Connected { get; private set; }

    /// <summary>Calls <paramref name="changed"/> (on any thread) whenever events arrive; dispose to stop.</summary>
    public IDisposable Watch(Action changed)
    {
        lock (_lock)
        {
            _watchers.Add(changed);
        }

        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = FollowAsync(lifetime.ApplicationStopping);
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

    private async Task FollowAsync(CancellationToken stopping)
    {
        try
        {
            var streams = services.GetRequiredService<CardEventStreams>();
            await foreach (var item in streams.FollowAsync(null, 0, stopping, last: Capacity))
            {
                if (item.Event is { } cardEvent)
                {
                    Add(cardEvent);
                }
                else
                {
                    Connected = item.Problem is null;
                    Problem = item.Problem;
                    Notify();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The web is stopping.
        }
    }

    private void Add(CardEvent cardEvent)
    {
        string? lookUp = null;
        lock (_lock)
        {
            if (cardEvent.CardId is { } cardId)
            {
                if (cardEvent.Kind == EventKinds.CardCreated && TitleIn(cardEvent.Payload) is { } title)
                {
                    _titles[cardId] = title;
                }
                else if (!_titles.ContainsKey(cardId) && _lookedUp.Add(cardId))
                {
                    lookUp = cardId;
                }
            }

            _events[cardEvent.Id] = cardEvent;
            while (_events.Count > Capacity)
            {
                _events.Remove(_events.Keys.First());
            }
        }

        if (lookUp is not null)
        {
            _ = LookUpTitleAsync(lookUp, lifetime.ApplicationStopping);
        }

        Notify();
    }

    private static string? TitleIn(JsonElement payload) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String
            ? title.GetString()
            : null;

    /// <summary>The title of a card whose creation is older than the events kept; a failure leaves its id shown.</summary>
    private async Task LookUpTitleAsync(string cardId, CancellationToken stopping)
    {
        try
        {
            var details = await services.GetRequiredService<AgentsApiClient>().GetCardAsync(cardId, stopping);
            if (details is not null)
            {
                lock (_lock)
                {
                    _titles.TryAdd(cardId, details.Card.Title);
                }

                Notify();
            }
        }
        catch (AgentsApiException exception)
        {
            AgentsApiLog.LiveTitleFailed(logger, cardId, exception.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The web is stopping.
        }
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
