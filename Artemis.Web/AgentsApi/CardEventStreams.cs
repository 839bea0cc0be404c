using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Artemis.Web.AgentsApi;

/// <summary>
/// Follows <c>GET /api/cards/{id}/events</c> or <c>GET /api/events</c> (Server-Sent Events) for as long as the caller listens: the stored events
/// first, then live ones. A dropped or silent connection is reopened with <c>Last-Event-ID</c>, so nothing is missed
/// and nothing comes twice; the caller hears of drops and reconnections through <see cref="CardStreamItem"/>s.
/// </summary>
public sealed class CardEventStreams(HttpClient http, ILogger<CardEventStreams> logger)
{
    /// <summary>How long to wait for the response headers.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A connection with no line for this long is taken for dead and reopened: the service writes a heartbeat comment
    /// every <c>Artemis:Messaging:HeartbeatSeconds</c> (15 by default) while it has no event to send.
    /// </summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(50);

    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The card's events (<paramref name="cardId"/> null: every event, <c>/api/events</c>) with an id above
    /// <paramref name="after"/>, until <paramref name="cancellationToken"/> is cancelled. With <paramref name="after"/>
    /// 0 and <paramref name="last"/>, every event's stream begins with the newest <paramref name="last"/> stored ones.
    /// Throws <see cref="AgentsApiException"/> (404) when the card does not exist; any other failure is reported as a
    /// <see cref="CardStreamItem"/> with a problem, and retried.
    /// </summary>
    public async IAsyncEnumerable<CardStreamItem> FollowAsync(string? cardId, long after, [EnumeratorCancellation] CancellationToken cancellationToken, int? last = null)
    {
        var lastId = after;
        var retry = TimeSpan.FromSeconds(1);
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (connection, problem) = await OpenAsync(cardId, lastId, last, cancellationToken);
            if (connection is not null)
            {
                await using (connection)
                {
                    yield return CardStreamItem.Connected;
                    while (true)
                    {
                        SseMessage? message;
                        try
                        {
                            message = await connection.ReadAsync(cancellationToken);
                        }
                        catch (Exception exception) when (exception is IOException or HttpRequestException
                            || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                        {
                            problem = exception is OperationCanceledException
                                ? $"nothing came for {IdleTimeout.TotalSeconds:0} s, not even a heartbeat"
                                : exception.Message;
                            break;
                        }

                        if (message is null)
                        {
                            problem = "the service closed the stream";
                            break;
                        }

                        failures = 0;
                        if (message.Retry is { } serverRetry)
                        {
                            retry = serverRetry;
                        }

                        if (message.Id is { } id && long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var eventId))
                        {
                            lastId = eventId;
                        }

                        if (Parse(message) is { } cardEvent)
                        {
                            yield return new CardStreamItem(cardEvent, null);
                        }
                    }
                }
            }

            failures++;
            var delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, retry.Ticks * (1L << Math.Min(failures - 1, 4))));
            AgentsApiLog.EventStreamDropped(logger, cardId is null ? "every event" : $"card {cardId}", lastId, problem ?? "unknown", delay.TotalSeconds);
            yield return new CardStreamItem(null, $"The live event stream dropped ({problem}); reconnecting in {delay.TotalSeconds:0} s.");
            await Task.Delay(delay, cancellationToken);
        }
    }

    private async Task<(SseConnection? Connection, string? Problem)> OpenAsync(string? cardId, long after, int? last, CancellationToken cancellationToken)
    {
        var path = cardId is not null ? $"/api/cards/{Uri.EscapeDataString(cardId)}/events"
            : after == 0 && last is { } count ? string.Create(CultureInfo.InvariantCulture, $"/api/events?last={count}")
            : "/api/events";
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (after > 0)
        {
            request.Headers.Add("Last-Event-ID", after.ToString(CultureInfo.InvariantCulture));
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            return (null, $"the Agents service cannot be reached: {exception.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {ConnectTimeout.TotalSeconds:0} s");
        }

        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            using (response)
            {
                var problem = await AgentsApiClient.ReadProblemAsync(response, cancellationToken);
                throw new AgentsApiException(problem.Text, HttpStatusCode.NotFound);
            }
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                var problem = await AgentsApiClient.ReadProblemAsync(response, cancellationToken);
                return (null, $"the Agents service answered {(int)response.StatusCode}: {problem.Text}");
            }
        }

        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return (new SseConnection(response, body), null);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            response.Dispose();
            return (null, exception.Message);
        }
    }

    private CardEvent? Parse(SseMessage message)
    {
        if (message.Data.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<CardEvent>(message.Data, JsonSerializerOptions.Web);
        }
        catch (JsonException exception)
        {
            // One unreadable event must not end the stream: the rest of the card's story is still worth showing.
            AgentsApiLog.UnreadableEvent(logger, message.Id, message.Event, exception);
            return null;
        }
    }
}

/// <summary>What a followed stream says next: an event, or a problem (the stream dropped and is being reopened).</summary>
public sealed record CardStreamItem(CardEvent? Event, string? Problem)
{
    /// <summary>The stream is open (again): any earlier problem is over.</summary>
    public static readonly CardStreamItem Connected = new(null, null);
}

/// <summary>One dispatched Server-Sent Events message.</summary>
public sealed record SseMessage(string? Id, string Event, string Data, TimeSpan? Retry);

/// <summary>
/// Reads Server-Sent Events from a response body as the HTML standard's event stream interpretation does: lines end
/// with CRLF, LF or CR; <c>:</c> starts a comment; <c>data</c> lines join with a newline; <c>id</c> persists until
/// changed (an id with NUL is ignored); <c>retry</c> takes milliseconds; a blank line dispatches; unknown fields are
/// ignored. Any line, a comment included, proves the connection alive.
/// </summary>
public sealed class SseConnection(IDisposable owner, Stream body) : IAsyncDisposable
{
    private readonly StreamReader _reader = new(body, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false);
    private string? _lastId;
    private bool _first = true;

    /// <summary>The next message, or null when the stream ends.</summary>
    public async Task<SseMessage?> ReadAsync(CancellationToken cancellationToken)
    {
        string eventType = "";
        var data = new StringBuilder();
        var hasData = false;
        TimeSpan? retry = null;
        while (true)
        {
            string? line;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                idle.CancelAfter(CardEventStreams.IdleTimeout);
                line = await _reader.ReadLineAsync(idle.Token);
            }

            if (line is null)
            {
                return null; // an unfinished message at the end of the stream is discarded
            }

            if (_first)
            {
                _first = false;
                line = line.TrimStart('\uFEFF');
            }

            if (line.Length == 0)
            {
                if (!hasData)
                {
                    if (retry is not null)
                    {
                        return new SseMessage(_lastId, "message", "", retry);
                    }

                    eventType = "";
                    continue;
                }

                return new SseMessage(_lastId, eventType.Length == 0 ? "message" : eventType, data.ToString(), retry);
            }

            if (line[0] == ':')
            {
                continue; // a comment: the service's heartbeat
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event":
                    eventType = value;
                    break;
                case "data":
                    if (hasData)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    hasData = true;
                    break;
                case "id" when !value.Contains('\0', StringComparison.Ordinal):
                    _lastId = value;
                    break;
                case "retry" when value.Length > 0 && value.All(char.IsAsciiDigit) && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms):
                    retry = TimeSpan.FromMilliseconds(ms);
                    break;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        owner.Dispose();
        return ValueTask.CompletedTask;
    }
}
