using System.Text;
using System.Text.Json;
using Artemis.Agents.Messaging;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Cards;

/// <summary>
/// A card's events (or every event) as Server-Sent Events: <c>id</c> = the event id (so a browser's reconnect sends it back as
/// <c>Last-Event-ID</c>), <c>event</c> = the kind, <c>data</c> = the event as JSON; a comment line every
/// <c>Artemis:Messaging:HeartbeatSeconds</c> while idle. Ends without error when the client goes away or the service
/// stops.
/// </summary>
/// <remarks>
/// Written by hand rather than with <c>TypedResults.ServerSentEvents</c>: its formatter has no comment lines, and a
/// heartbeat must not be an event the client has to filter out.
/// </remarks>
public sealed class CardEventStreamResult(string? cardId, long after, CancellationToken stopping) : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "text/event-stream";

    /// <summary>Most bytes buffered before a flush while events keep coming.</summary>
    private const int FlushBytes = 32 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var services = httpContext.RequestServices;
        var hub = services.GetRequiredService<EventHub>();
        var heartbeat = TimeSpan.FromSeconds(services.GetRequiredService<IOptions<MessagingOptions>>().Value.HeartbeatSeconds);
        var logger = services.GetRequiredService<ILogger<CardEventStreamResult>>();

        var response = httpContext.Response;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx and friends: don't hold events back
        httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted, stopping);
        var token = linked.Token;
        long sent = 0;
        var reason = "the stream ended";
        var of = cardId is null ? "every card" : $"card {cardId}";
        CardsLog.StreamOpened(logger, of, after);
        var events = hub.FollowAsync(cardId, after, token).GetAsyncEnumerator(token);
        Task<bool>? next = null;
        try
        {
            Write(response, $": events of {of} after {after}\n\n");
            await response.BodyWriter.FlushAsync(token);
            next = events.MoveNextAsync().AsTask();
            var unflushed = 0;
            while (true)
            {
                // Events that are ready go out together: one flush (one send) when the reader has to wait for more,
                // or when enough is buffered, rather than one per event.
                if (!next.IsCompleted || unflushed >= FlushBytes)
                {
                    await response.BodyWriter.FlushAsync(token);
                    unflushed = 0;
                }

                if (!next.IsCompleted)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(token);
                    var delay = Task.Delay(heartbeat, idle.Token);
                    if (await Task.WhenAny(next, delay) != next)
                    {
                        token.ThrowIfCancellationRequested();
                        Write(response, ": heartbeat\n\n"); // flushed at the top of the loop
                        continue;
                    }

                    await idle.CancelAsync();
                }

                if (!await next)
                {
                    break;
                }

                var item = events.Current;
                unflushed += Write(response, $"id: {item.Id}\nevent: {item.Kind}\ndata: {JsonSerializer.Serialize(item, JsonSerializerOptions.Web)}\n\n");
                sent++;
                next = events.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            reason = httpContext.RequestAborted.IsCancellationRequested ? "the client went away" : "the service is stopping";
        }
        catch (IOException) when (httpContext.RequestAborted.IsCancellationRequested)
        {
            reason = "the client went away";
        }
        finally
        {
            await linked.CancelAsync();
            if (next is not null)
            {
                // An async iterator cannot be disposed while a MoveNextAsync is pending: let it see the cancellation.
                try
                {
                    await next;
                }
                catch (Exception exception) when (exception is OperationCanceledException || next.IsFaulted)
                {
                    // Cancelled above, or the failure that is already on its way out of this method.
                }
            }

            await events.DisposeAsync();
            CardsLog.StreamClosed(logger, of, sent, reason);
        }
    }

    /// <summary>Buffers <paramref name="text"/> in the response without sending it; returns the bytes written.</summary>
    private static int Write(HttpResponse response, string text) => (int)Encoding.UTF8.GetBytes(text, response.BodyWriter);

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(CardEvent), [ContentType]));
    }
}
