using System.Text;
using Artemis.ServiceDefaults;

namespace Artemis.Agents.Tests.Cards;

/// <summary>One frame of a text/event-stream: its fields, or only comment lines (a heartbeat).</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, IReadOnlyList<string> Comments);

/// <summary>
/// A raw Server-Sent Events reader over one HTTP response: sees comment lines too, which a parser such as
/// <c>SseParser</c> drops, so the tests can check heartbeats.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpClient http, HttpResponseMessage response, Stream body)
    {
        _http = http;
        _response = response;
        _reader = new StreamReader(body, Encoding.UTF8);
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseClient> ConnectAsync(Uri baseAddress, string path, string? lastEventId = null, string? apiKey = CardsAppFixture.ApiKey)
    {
        // One client per stream: disposing it is how a test "goes away".
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (apiKey is not null)
        {
            request.Headers.Add(ResourceNames.ApiKeyHeader, apiKey);
        }

        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseClient(http, response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The whole body, for an answer that is not an event stream (a problem).</summary>
    public Task<string> ReadBodyAsync() => _reader.ReadToEndAsync();

    /// <summary>The next frame, comment-only frames included; null at the end of the stream.</summary>
    public async Task<SseFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        string? id = null, kind = null;
        StringBuilder? data = null;
        var comments = new List<string>();
        var any = false;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseFrame(id, kind, data?.ToString(), comments);
                }

                continue;
            }

            any = true;
            if (line.StartsWith(':'))
            {
                comments.Add(line[1..].Trim());
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": kind = value; break;
                case "data": data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value); break;
            }
        }

        return null;
    }

    /// <summary>The next event, skipping comment-only frames; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<SseFrame> ReadEventAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        while (true)
        {
            var frame = await ReadFrameAsync(cancellation.Token) ?? throw new InvalidOperationException("The event stream ended.");
            if (frame.Event is not null || frame.Data is not null)
            {
                return frame;
            }
        }
    }

    public async Task<List<SseFrame>> ReadEventsAsync(int count, TimeSpan timeout)
    {
        var frames = new List<SseFrame>();
        using var cancellation = new CancellationTokenSource(timeout);
        while (frames.Count < count)
        {
            var frame = await ReadFrameAsync(cancellation.Token) ?? throw new InvalidOperationException($"The event stream ended after {frames.Count} events.");
            if (frame.Event is not null || frame.Data is not null)
            {
                frames.Add(frame);
            }
        }

        return frames;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
