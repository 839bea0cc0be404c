using Artemis.Agents.Messaging;
using Artemis.Agents.Tests.Cards;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.Agents.Tests.Messaging;

/// <summary>
/// The hub's one follower against real Postgres and Redis (the fixture reads 10 entries at a time and queues 16 events
/// per subscriber, so bursts overflow both).
/// </summary>
[Collection(CardsAppGroup.Name)]
public sealed class EventHubTests(CardsAppFixture app)
{
    private static string NewCardId() => "h" + Guid.NewGuid().ToString("N")[..11];

    private EventHub Hub => app.Services.GetRequiredService<EventHub>();

    private Task<long> PublishAsync(string card, int i) =>
        app.Publisher.PublishAsync(card, EventKinds.Cost, new { i }, CancellationToken.None).ContinueWith(task => task.Result.Id, TaskScheduler.Default);

    private static async Task<List<long>> TakeAsync(IAsyncEnumerable<CardEvent> events, int count, CancellationToken cancellationToken)
    {
        var ids = new List<long>();
        await foreach (var item in events.WithCancellation(cancellationToken))
        {
            ids.Add(item.Id);
            if (ids.Count == count)
            {
                break;
            }
        }

        return ids;
    }

    [Fact]
    public async Task Readers_of_several_cards_and_of_every_card_get_their_events_once_in_order_while_publishing_races_them()
    {
        var cards = Enumerable.Range(0, 3).Select(_ => NewCardId()).ToArray();
        var published = cards.ToDictionary(card => card, _ => new List<long>());
        foreach (var card in cards)
        {
            for (var i = 0; i < 12; i++)
            {
                published[card].Add(await PublishAsync(card, i));
            }
        }

        var before = published.Values.SelectMany(ids => ids).Min() - 1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // Two readers per card (one from the start, one from its 5th event) and one of every card, joining while
        // events keep coming, in bursts larger than a read batch and a queue.
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                foreach (var card in cards)
                {
                    var id = await PublishAsync(card, 100 + i);
                    lock (published)
                    {
                        published[card].Add(id);
                    }
                }
            }
        });
        var readers = cards.SelectMany(card => new[]
        {
            (Card: card, From: 0, Task: TakeAsync(Hub.FollowAsync(card, 0, timeout.Token), 52, timeout.Token)),
            (Card: card, From: 5, Task: Task.Run(async () =>
            {
                await Task.Delay(50, timeout.Token);
                return await TakeAsync(Hub.FollowAsync(card, published[card][4], timeout.Token), 47, timeout.Token);
            })),
        }).ToList();
        var every = TakeAsync(Hub.FollowAsync(null, before, timeout.Token).Where(item => cards.Contains(item.CardId)), 3 * 52, timeout.Token);

        await publishing;
        foreach (var (card, from, task) in readers)
        {
            Assert.Equal(published[card].Skip(from), await task);
        }

        Assert.Equal(published.Values.SelectMany(ids => ids).Order(), await every);
        Assert.All(cards, card => Assert.Equal(0, Hub.SubscribersOf(card)));
    }

    [Fact]
    public async Task A_reader_that_stops_taking_events_is_not_cut_off_and_catches_up_without_gaps_or_duplicates()
    {
        var card = NewCardId();
        var first = await PublishAsync(card, 0);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var events = Hub.FollowAsync(card, 0, timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(first, events.Current.Id);
        Assert.Equal(1, Hub.SubscribersOf(card));

        // 100 events while the reader takes none: its queue of 16 overflows.
        var later = new List<long>();
        for (var i = 1; i <= 100; i++)
        {
            later.Add(await PublishAsync(card, i));
        }

        var received = new List<long>();
        while (received.Count < later.Count && await events.MoveNextAsync())
        {
            received.Add(events.Current.Id);
        }

        Assert.Equal(later, received);

        // And it is live again afterwards.
        var next = await PublishAsync(card, 101);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(next, events.Current.Id);
    }

    [Fact]
    public async Task A_reader_of_a_quiet_card_gets_nothing_else_and_leaves_no_subscription_behind()
    {
        var quiet = NewCardId();
        var busy = NewCardId();
        var stored = await PublishAsync(quiet, 0);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            var received = new List<long>();
            var reading = Task.Run(async () =>
            {
                try
                {
                    await foreach (var item in Hub.FollowAsync(quiet, 0, timeout.Token))
                    {
                        received.Add(item.Id);
                    }
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    // Cancelled inside a Postgres read rather than while waiting: the same end.
                }
            });
            for (var i = 0; i < 50; i++)
            {
                await PublishAsync(busy, i);
            }

            await reading;
            Assert.Equal([stored], received);
        }

        Assert.Equal(0, Hub.SubscribersOf(quiet));
    }
}
