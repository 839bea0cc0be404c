using System.Globalization;
using Artemis.Agents.Api;
using Artemis.Agents.Messaging;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Artemis.Agents.Cards;

/// <summary>
/// <c>/api/cards</c>: list, create, get, cancel, and each card's live events (SSE); <c>/api/events</c>: every event (SSE). An unknown card is a 404 and a
/// finished card that cannot be cancelled a 409, both as problem details through <see cref="ApiExceptionHandler"/>.
/// </summary>
public static class CardsApi
{
    public const int DefaultListLimit = 100;
    public const int MaxListLimit = 1_000;

    /// <summary>Most stored events <c>/api/events?last=</c> begins with.</summary>
    public const int MaxLast = 10_000;

    public static IEndpointRouteBuilder MapCardsApi(this IEndpointRouteBuilder app)
    {
        var cards = app.MapGroup($"{ApiExtensions.ApiPrefix}/cards").WithTags("Cards");

        cards.MapGet("/", ListAsync)
            .WithName("ListCards")
            .WithSummary("Cards, newest first; ?stage= keeps one stage, ?limit= caps the count (default 100, at most 1000)");

        cards.MapPost("/", CreateAsync)
            .WithName("CreateCard")
            .WithSummary("Queues a card: a title, its source workspace on the server, its acceptance test command and optionally a budget");

        cards.MapGet("/{id}", GetAsync)
            .WithName("GetCard")
            .WithSummary("A card with its attempts and a summary of its events")
            .ProducesProblem(StatusCodes.Status404NotFound);

        cards.MapPost("/{id}/cancel", CancelAsync)
            .WithName("CancelCard")
            .WithSummary("Cancels a card that has not finished; a Done, Failed or Cancelled card answers 409")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        cards.MapGet("/{id}/events", StreamEventsAsync)
            .WithName("StreamCardEvents")
            .WithSummary("A card's events as Server-Sent Events: the stored ones after Last-Event-ID (or ?after=), then live ones")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet($"{ApiExtensions.ApiPrefix}/events", StreamAllEventsAsync)
            .WithTags("Events")
            .WithName("StreamEvents")
            .WithSummary("Every event (of every card, and those of none, such as budget alerts) as Server-Sent Events: the stored ones after Last-Event-ID (or ?after=, or the newest ?last=N), then live ones");

        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<Card>>, ValidationProblem>> ListAsync(
        CardStore store, string? stage, int? limit, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        CardStage? filter = null;
        if (stage is not null)
        {
            if (CardStages.TryParse(stage, out var parsed))
            {
                filter = parsed;
            }
            else
            {
                errors["stage"] = [$"must be one of {string.Join(", ", Enum.GetNames<CardStage>())}, was '{stage}'"];
            }
        }

        if (limit is < 1 or > MaxListLimit)
        {
            errors["limit"] = [$"must be between 1 and {MaxListLimit}, was {limit}"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await store.ListAsync(filter, limit ?? DefaultListLimit, cancellationToken));
    }

    public static async Task<Results<Created<Card>, ValidationProblem>> CreateAsync(
        CreateCardRequest request, CardValidator validator, CardStore store, ILogger<CardStore> logger, CancellationToken cancellationToken)
    {
        var (card, errors) = validator.Validate(request);
        if (card is null)
        {
            return TypedResults.ValidationProblem(errors, title: "The card is not valid");
        }

        var created = await store.CreateAsync(card, cancellationToken);
        CardsLog.CardCreated(logger, created.Id, created.Title, created.Workspace, created.WorkspaceKind);
        return TypedResults.Created($"{ApiExtensions.ApiPrefix}/cards/{created.Id}", created);
    }

    public static async Task<Ok<CardDetails>> GetAsync(string id, CardStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.GetDetailsAsync(id, cancellationToken));

    public static async Task<Ok<Card>> CancelAsync(string id, CardStore store, ILogger<CardStore> logger, CancellationToken cancellationToken)
    {
        var (cancelled, from) = await store.CancelAsync(id, "cancelled through the API", cancellationToken);
        CardsLog.CardCancelled(logger, id, from);
        return TypedResults.Ok(cancelled);
    }

    public static async Task<Results<CardEventStreamResult, ValidationProblem>> StreamEventsAsync(
        string id,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId,
        string? after,
        CardStore store,
        IHostApplicationLifetime lifetime,
        CancellationToken cancellationToken)
    {
        var (from, problem) = StartingPoint(lastEventId, after);
        if (problem is not null)
        {
            return problem;
        }

        _ = await store.GetAsync(id, cancellationToken); // 404 before the stream starts
        return new CardEventStreamResult(id, from, lifetime.ApplicationStopping);
    }

    public static async Task<Results<CardEventStreamResult, ValidationProblem>> StreamAllEventsAsync(
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId,
        string? after,
        string? last,
        EventReader reader,
        IHostApplicationLifetime lifetime,
        CancellationToken cancellationToken)
    {
        var (from, problem) = StartingPoint(lastEventId, after);
        if (problem is not null)
        {
            return problem;
        }

        // ?last=N: start with the newest N stored events (a page showing recent activity), unless the client resumes
        // (Last-Event-ID) or names its own starting point (?after=).
        if (last is not null && lastEventId is null && after is null)
        {
            if (!int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1 || count > MaxLast)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["last"] = [$"must be a whole number from 1 to {MaxLast}, was '{last}'"],
                });
            }

            return new CardEventStreamResult(null, await reader.BeforeNewestAsync(count, cancellationToken), lifetime.ApplicationStopping);
        }

        return new CardEventStreamResult(null, from, lifetime.ApplicationStopping);
    }

    /// <summary>
    /// The event id to stream after (0: from the start), or a problem when it is not one. A browser's EventSource sends
    /// Last-Event-ID when it reconnects; it wins over the ?after= of the first request.
    /// </summary>
    private static (long From, ValidationProblem? Problem) StartingPoint(string? lastEventId, string? after)
    {
        var (name, text) = lastEventId is not null ? ("Last-Event-ID", lastEventId) : ("after", after);
        if (text is null)
        {
            return (0, null);
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            ? (from, null)
            : (0, TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [name] = [$"must be an event id (a whole number >= 0), was '{text}'"],
            }));
    }
}
