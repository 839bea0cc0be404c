using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Messaging;

namespace Artemis.Agents.Tests.Cards;

[Collection(CardsAppGroup.Name)]
public sealed class CardEventsStreamTests(CardsAppFixture app)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private async Task<(string Id, long CreatedEventId)> NewCardAsync()
    {
        using var response = await app.Client.PostAsJsonAsync("api/cards", new { title = "stream me", workspace = app.NewWorkspace(), testCommand = "make test" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var created = await app.ScalarAsync("SELECT id FROM events WHERE card_id = $1 AND kind = $2", id, EventKinds.CardCreated);
        return (id, created);
    }

    private async Task<List<CardEvent>> PublishAsync(string cardId, int count, string label)
    {
        var published = new List<CardEvent>();
        for (var i = 0; i < count; i++)
        {
            published.Add(await app.Publisher.PublishAsync(cardId, EventKinds.AgentMessage, new { label, n = i }, CancellationToken.None));
        }

        return published;
    }

    [Fact]
    public async Task A_connected_client_receives_the_events_published_after_it_connected_in_order_and_only_its_cards()
    {
        var (id, created) = await NewCardAsync();
        var (other, _) = await NewCardAsync();
        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events?after={created}");
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);

        var published = new List<CardEvent>();
        for (var i = 0; i < 5; i++)
        {
            published.Add(await app.Publisher.PublishAsync(id, EventKinds.AgentMessage, new { n = i }, CancellationToken.None));
            await app.Publisher.PublishAsync(other, EventKinds.AgentMessage, new { n = i }, CancellationToken.None);
        }

        published.Add(await app.Publisher.PublishAsync(id, EventKinds.TestResult, new { passed = true }, CancellationToken.None));
        var received = await stream.ReadEventsAsync(published.Count, Patience);

        Assert.Equal(published.Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), received.Select(frame => frame.Id));
        Assert.Equal(published.Select(e => e.Kind), received.Select(frame => frame.Event));
        var data = received.Select(frame => JsonNode.Parse(frame.Data!)!).ToList();
        Assert.All(data, item => Assert.Equal(id, (string?)item["cardId"]));
        Assert.Equal([0, 1, 2, 3, 4], data.Take(5).Select(item => (int)item["payload"]!["n"]!));
        Assert.True((bool)data[5]["payload"]!["passed"]!);
    }

    [Fact]
    public async Task A_client_reconnecting_with_Last_Event_ID_gets_exactly_the_events_it_missed()
    {
        var (id, created) = await NewCardAsync();
        var first = await PublishAsync(id, 3, "before");
        List<SseFrame> seen;
        await using (var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events"))
        {
            seen = await stream.ReadEventsAsync(3, Patience); // card.created and the first two
        }

        // Published while the client is away: more than a read batch (10), so the replay goes through paging.
        var missed = await PublishAsync(id, 23, "missed");

        await using var again = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events", lastEventId: seen[^1].Id);
        var live = await PublishAsync(id, 4, "live");
        var expected = first.Skip(2).Concat(missed).Concat(live).Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var replayed = await again.ReadEventsAsync(expected.Count, Patience);

        Assert.Equal([created, first[0].Id, first[1].Id], seen.Select(frame => long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(expected, replayed.Select(frame => frame.Id));

        // Nothing more: no duplicate arrives after the expected ones (a heartbeat comes first, within a second).
        using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var next = await again.ReadFrameAsync(quiet.Token);
        Assert.NotNull(next);
        Assert.Null(next.Id);
        Assert.Contains("heartbeat", next.Comments);
    }

    [Fact]
    public async Task An_idle_stream_gets_heartbeat_comments()
    {
        var (id, created) = await NewCardAsync();
        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events?after={created}");

        using var timeout = new CancellationTokenSource(Patience);
        var frames = new List<SseFrame>();
        while (frames.Count(frame => frame.Comments.Contains("heartbeat")) < 2)
        {
            frames.Add((await stream.ReadFrameAsync(timeout.Token))!);
        }

        Assert.All(frames, frame => Assert.Null(frame.Event));
    }

    [Fact]
    public async Task The_stream_of_every_event_has_each_cards_events_and_those_of_no_card_in_id_order()
    {
        var (first, created) = await NewCardAsync();
        var (second, _) = await NewCardAsync();
        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/events?after={created}");
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);

        var published = new List<CardEvent>();
        for (var i = 0; i < 3; i++)
        {
            published.Add(await app.Publisher.PublishAsync(first, EventKinds.AgentMessage, new { n = i }, CancellationToken.None));
            published.Add(await app.Publisher.PublishAsync(second, EventKinds.AgentMessage, new { n = i }, CancellationToken.None));
        }

        published.Add(await app.Publisher.PublishAsync(null, EventKinds.BudgetAlert, new { window = "daily" }, CancellationToken.None));

        // Other tests of the collection publish too: keep this test's events, which must come in the order published.
        var ours = published.Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var received = new List<SseFrame>();
        using var timeout = new CancellationTokenSource(Patience);
        while (received.Count < published.Count && await stream.ReadFrameAsync(timeout.Token) is { } frame)
        {
            if (frame.Id is not null && ours.Contains(frame.Id))
            {
                received.Add(frame);
            }
        }

        Assert.Equal(published.Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), received.Select(frame => frame.Id));
        Assert.Equal([first, second, first, second, first, second, null], received.Select(frame => (string?)JsonNode.Parse(frame.Data!)!["cardId"]));
        Assert.Equal(EventKinds.BudgetAlert, received[^1].Event);
    }

    [Fact]
    public async Task The_stream_of_every_event_can_start_with_the_newest_few_stored_ones()
    {
        var (id, _) = await NewCardAsync();
        var published = await PublishAsync(id, 5, "recent");

        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, "api/events?last=3");
        var received = await stream.ReadEventsAsync(3, Patience);
        var live = await app.Publisher.PublishAsync(id, EventKinds.AgentMessage, new { label = "live" }, CancellationToken.None);
        var next = await stream.ReadEventsAsync(1, Patience);

        Assert.Equal(published.Skip(2).Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), received.Select(frame => frame.Id));
        Assert.Equal(live.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), next.Single().Id);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("10001")]
    [InlineData("all")]
    public async Task The_stream_of_every_event_refuses_a_bad_count_naming_it(string last)
    {
        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/events?last={last}");

        Assert.Equal(HttpStatusCode.BadRequest, stream.Response.StatusCode);
        Assert.Contains("\"last\"", await stream.ReadBodyAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stream_of_every_event_refuses_a_bad_starting_point_and_needs_the_api_key()
    {
        await using var header = await SseClient.ConnectAsync(app.BaseAddress, "api/events", lastEventId: "1e3");
        await using var query = await SseClient.ConnectAsync(app.BaseAddress, "api/events?after=99999999999999999999");
        await using var anonymous = await SseClient.ConnectAsync(app.BaseAddress, "api/events", apiKey: null);

        Assert.Equal(HttpStatusCode.BadRequest, header.Response.StatusCode);
        Assert.Contains("Last-Event-ID", await header.ReadBodyAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, query.Response.StatusCode);
        Assert.Contains("\"after\"", await query.ReadBodyAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Response.StatusCode);
    }

    [Fact]
    public async Task A_bad_Last_Event_ID_or_after_is_refused_naming_it()
    {
        var (id, _) = await NewCardAsync();

        await using var header = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events", lastEventId: "yesterday");
        await using var query = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events?after=-3");

        Assert.Equal(HttpStatusCode.BadRequest, header.Response.StatusCode);
        Assert.Contains("Last-Event-ID", await header.ReadBodyAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, query.Response.StatusCode);
        Assert.Contains("\"after\"", await query.ReadBodyAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_event_stream_needs_the_api_key()
    {
        var (id, _) = await NewCardAsync();

        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, $"api/cards/{id}/events", apiKey: null);

        Assert.Equal(HttpStatusCode.Unauthorized, stream.Response.StatusCode);
        Assert.Equal("application/problem+json", stream.Response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task An_event_stream_client_asking_for_an_unknown_card_gets_a_404_problem()
    {
        await using var stream = await SseClient.ConnectAsync(app.BaseAddress, "api/cards/zzzzzzzzzzzz/events");

        Assert.Equal(HttpStatusCode.NotFound, stream.Response.StatusCode);
        Assert.Equal("application/problem+json", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("zzzzzzzzzzzz", await stream.ReadBodyAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_event_streams_end_cleanly_when_the_service_stops()
    {
        var (id, created) = await NewCardAsync();
        var replica = await app.StartAppAsync(CancellationToken.None);
        await using var stream = await SseClient.ConnectAsync(CardsAppFixture.AddressOf(replica), $"api/cards/{id}/events?after={created}");
        var published = await app.Publisher.PublishAsync(id, EventKinds.CardStage, new { to = "Planning" }, CancellationToken.None);
        Assert.Equal(published.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), (await stream.ReadEventAsync(Patience)).Id);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await replica.StopAsync(CancellationToken.None);
        stopwatch.Stop();
        await replica.DisposeAsync();

        // The stream is over (not cut by the host's shutdown timeout, which is 30 s by default).
        using var timeout = new CancellationTokenSource(Patience);
        SseFrame? frame;
        do
        {
            frame = await stream.ReadFrameAsync(timeout.Token);
        }
        while (frame is not null && frame.Id is null);

        Assert.Null(frame);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {stopwatch.Elapsed}");
    }
}
