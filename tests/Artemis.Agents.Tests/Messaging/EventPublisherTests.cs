using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Messaging;
using Artemis.Agents.Tests.Cards;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;

namespace Artemis.Agents.Tests.Messaging;

[Collection(CardsAppGroup.Name)]
public sealed class EventPublisherTests(CardsAppFixture app)
{
    private static string NewCardId() => "t" + Guid.NewGuid().ToString("N")[..11];

    private async Task<List<(long Id, string Kind, string Payload)>> StoredAsync(string cardId)
    {
        await using var command = app.Database.CreateCommand("SELECT id, kind, payload::text FROM events WHERE card_id = $1 ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter { Value = cardId });
        var rows = new List<(long, string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    /// <summary>The stream's entries for these cards, in stream order.</summary>
    private async Task<List<StreamEntry>> StreamAsync(params string[] cardIds)
    {
        var entries = await app.Redis.StreamRangeAsync(EventPublisher.StreamKey, "-", "+");
        return [.. entries.Where(entry => cardIds.Contains((string?)entry["card"]))];
    }

    [Fact]
    public async Task Every_event_is_in_Postgres_and_in_the_Redis_stream_with_the_same_id()
    {
        var card = NewCardId();
        var published = new List<CardEvent>();
        foreach (var kind in EventKinds.All)
        {
            published.Add(await app.Publisher.PublishAsync(card, kind, new { kind, text = "line\nbreak \"quoted\"", usd = 0.25m }, CancellationToken.None));
        }

        var stored = await StoredAsync(card);
        var streamed = await StreamAsync(card);

        Assert.Equal(published.Select(e => e.Id), stored.Select(row => row.Id));
        Assert.Equal(published.Select(e => e.Id), streamed.Select(entry => long.Parse((string)entry["id"]!, CultureInfo.InvariantCulture)));
        Assert.Equal(EventKinds.All, stored.Select(row => row.Kind));
        Assert.Equal(EventKinds.All, streamed.Select(entry => (string)entry["kind"]!));
        for (var i = 0; i < stored.Count; i++)
        {
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(stored[i].Payload), JsonNode.Parse((string)streamed[i]["payload"]!)), $"payload of event {stored[i].Id}");
        }

        Assert.Equal("line\nbreak \"quoted\"", (string?)JsonNode.Parse(stored[0].Payload)!["text"]);
    }

    [Fact]
    public async Task Publishers_on_two_replicas_put_events_in_the_stream_in_id_order()
    {
        var replica = await app.StartAppAsync(CancellationToken.None);
        try
        {
            var publishers = new[] { app.Publisher, replica.Services.GetRequiredService<EventPublisher>() };
            var cards = Enumerable.Range(0, 4).Select(_ => NewCardId()).ToArray();

            var published = await Task.WhenAll(cards.Select((card, n) => Task.Run(async () =>
            {
                var publisher = publishers[n % 2];
                var ids = new List<long>();
                for (var i = 0; i < 40; i++)
                {
                    // Both ways of publishing: queued, and inside a caller's transaction.
                    var item = i % 5 == 0
                        ? await publisher.PublishAsync(card, EventKinds.CardStage, (_, _, _) => Task.FromResult<object?>(new { i }), CancellationToken.None)
                        : await publisher.PublishAsync(card, EventKinds.ToolCall, new { i }, CancellationToken.None);
                    ids.Add(item!.Id);
                }

                return ids;
            })));

            var streamIds = (await StreamAsync(cards)).Select(entry => long.Parse((string)entry["id"]!, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(published.SelectMany(ids => ids).Order(), streamIds.Order());
            Assert.Equal(streamIds.Order(), streamIds); // stream order is id order: readers may resume "after id N"
        }
        finally
        {
            await replica.StopAsync(CancellationToken.None);
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task Events_published_at_once_are_written_in_shared_transactions_and_all_arrive()
    {
        var card = NewCardId();

        var published = await Task.WhenAll(Enumerable.Range(0, 200)
            .Select(i => app.Publisher.PublishAsync(card, EventKinds.AgentMessage, new { i }, CancellationToken.None)));

        var stored = await StoredAsync(card);
        Assert.Equal(published.Select(e => e.Id).Order(), stored.Select(row => row.Id));
        Assert.Equal(stored.Select(row => row.Id), (await StreamAsync(card)).Select(entry => long.Parse((string)entry["id"]!, CultureInfo.InvariantCulture)));
        // A batch is one transaction, and now() is the transaction's start: fewer distinct times than events.
        Assert.True(published.Select(e => e.OccurredAt).Distinct().Count() < 100, "the events were not batched");
    }

    [Fact]
    public async Task A_change_that_declines_or_fails_stores_and_streams_nothing()
    {
        var card = NewCardId();

        var declined = await app.Publisher.PublishAsync(card, EventKinds.CardStage, (_, _, _) => Task.FromResult<object?>(null), CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => app.Publisher.PublishAsync(card, EventKinds.CardStage, async (connection, transaction, token) =>
        {
            await using var command = new NpgsqlCommand("INSERT INTO events (card_id, kind) VALUES ($1, 'inside')", connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = card });
            await command.ExecuteNonQueryAsync(token);
            throw new InvalidOperationException("the change failed");
        }, CancellationToken.None));
        var after = await app.Publisher.PublishAsync(card, EventKinds.CardStage, new { to = "Planning" }, CancellationToken.None);

        Assert.Null(declined);
        Assert.Equal([after.Id], (await StoredAsync(card)).Select(row => row.Id));
        Assert.Equal([after.Id.ToString(CultureInfo.InvariantCulture)], (await StreamAsync(card)).Select(entry => (string?)entry["id"]));
    }

    [Fact]
    public async Task A_follower_gets_stored_then_live_events_without_gaps_or_duplicates_while_publishing_races_it()
    {
        var card = NewCardId();
        var reader = app.Services.GetRequiredService<EventReader>();
        var stored = new List<long>();
        for (var i = 0; i < 25; i++)
        {
            stored.Add((await app.Publisher.PublishAsync(card, EventKinds.Cost, new { i }, CancellationToken.None)).Id);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new List<long>();
        var live = new List<long>();
        var publishing = Task.Run(async () =>
        {
            // Bursts larger than a read batch (10) force the follower back to Postgres in the middle.
            for (var i = 0; i < 60; i++)
            {
                live.Add((await app.Publisher.PublishAsync(card, EventKinds.Cost, new { i }, CancellationToken.None)).Id);
                await app.Publisher.PublishAsync(NewCardId(), EventKinds.Cost, new { noise = i }, CancellationToken.None);
            }
        });

        await foreach (var item in reader.FollowAsync(card, stored[4], timeout.Token))
        {
            received.Add(item.Id);
            if (received.Count == 20 + 60)
            {
                break;
            }
        }

        await publishing;
        Assert.Equal(stored.Skip(5).Concat(live), received);
    }

    [Fact]
    public async Task A_stream_entry_carries_the_event_as_stored()
    {
        var card = NewCardId();
        var published = await app.Publisher.PublishAsync(card, EventKinds.BudgetAlert, new { window = $"card {card}", spentUsd = 1.6m }, CancellationToken.None);
        var reader = app.Services.GetRequiredService<EventReader>();

        var fromPostgres = (await reader.StoredAsync(card, 0, 10, CancellationToken.None)).Single();
        var entry = (await StreamAsync(card)).Single();

        Assert.Equal(published.Id, fromPostgres.Id);
        Assert.Equal(published.OccurredAt, fromPostgres.OccurredAt);
        Assert.Equal(fromPostgres.OccurredAt, DateTimeOffset.UnixEpoch.AddTicks(long.Parse((string)entry["at"]!, CultureInfo.InvariantCulture) * TimeSpan.TicksPerMicrosecond));
        Assert.Equal(card, (string?)entry["card"]);
        Assert.Equal(1.6m, JsonSerializer.Deserialize<JsonElement>((string)entry["payload"]!).GetProperty("spentUsd").GetDecimal());
    }
}
