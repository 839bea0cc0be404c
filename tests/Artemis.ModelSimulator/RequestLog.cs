using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Artemis.ModelSimulator;

/// <summary>One chat request as the simulator saw and answered it (<c>GET /_sim/requests</c>).</summary>
public sealed record RequestLogEntry(
    long Sequence,
    DateTimeOffset ReceivedAt,
    string Path,
    string? Model,
    bool Stream,
    bool IncludeUsage,
    JsonElement? Messages,
    IReadOnlyList<string> Tools,
    int? Status,
    string? Fault,
    JsonElement? Usage,
    string? Step,
    bool Cancelled,
    RealtimeLogDetails? Realtime = null);

/// <summary>
/// What a realtime entry is: a response (its id and final status; usage is the entry's), or a client event worth
/// checking (session.update, conversation.item.truncate, response.cancel) as received.
/// </summary>
public sealed record RealtimeLogDetails(string Session, string Event, string? ResponseId, string? ResponseStatus, JsonElement? ClientEvent);

/// <summary>
/// Every chat request received, in order of arrival, each with a sequence number that is never reused (clearing the
/// log does not restart it). An entry is added when a request arrives and completed before its answer is written,
/// so a client that has its answer always finds it logged. The newest <see cref="SimulatorOptions.MaxLoggedRequests"/>
/// entries are kept, so that a long demo does not grow without bound.
/// </summary>
public sealed class RequestLog(TimeProvider time, IOptions<SimulatorOptions> options)
{
    /// <summary>camelCase, every field present (null included), the usage as it went on the wire (snake_case).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
    };

    private readonly Lock _gate = new();
    private readonly List<RequestLogEntry> _entries = [];
    private readonly int _limit = Math.Max(1, options.Value.MaxLoggedRequests);
    private long _sequence;

    /// <summary>Logs a request on arrival; returns its sequence number.</summary>
    public long Begin(string path)
    {
        lock (_gate)
        {
            var entry = new RequestLogEntry(++_sequence, time.GetUtcNow(), path, null, false, false, null, [], null, null, null, null, false);
            _entries.Add(entry);
            if (_entries.Count > _limit)
            {
                _entries.RemoveRange(0, _entries.Count - _limit);
            }

            return entry.Sequence;
        }
    }

    public void Describe(long sequence, string? model, bool stream, bool includeUsage, JsonElement? messages,
        IReadOnlyList<string> tools) =>
        Update(sequence, entry => entry with
        {
            Model = model,
            Stream = stream,
            IncludeUsage = includeUsage,
            Messages = messages,
            Tools = tools,
        });

    /// <summary>Records the answer: its status (null when none was sent), fault kind, usage reported and step.</summary>
    public void Complete(long sequence, int? status, string? fault = null, WireUsage? usage = null, string? step = null) =>
        Update(sequence, entry => entry with
        {
            Status = status,
            Fault = fault,
            Usage = usage is null ? null : JsonSerializer.SerializeToElement(usage, WireJson.Options),
            Step = step,
        });

    /// <summary>Logs a realtime event at once, complete (client events need no answer to be logged).</summary>
    public long Add(string path, string? model, RealtimeLogDetails details, JsonElement? messages = null, IReadOnlyList<string>? tools = null)
    {
        var sequence = Begin(path);
        Update(sequence, entry => entry with { Model = model, Stream = true, Messages = messages, Tools = tools ?? [], Realtime = details });
        return sequence;
    }

    /// <summary>Completes a realtime response entry: its final status, usage as sent and the step that answered.</summary>
    public void CompleteRealtime(long sequence, string status, JsonElement usage, string? step, string? fault) =>
        Update(sequence, entry => entry with
        {
            Status = StatusCodes.Status200OK,
            Usage = usage,
            Step = step,
            Fault = fault,
            Cancelled = status == "cancelled",
            Realtime = entry.Realtime! with { ResponseStatus = status },
        });

    /// <summary>The client went away before the answer was complete.</summary>
    public void Cancel(long sequence) => Update(sequence, entry => entry with { Cancelled = true });

    public IReadOnlyList<RequestLogEntry> Snapshot()
    {
        lock (_gate)
        {
            return [.. _entries];
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
        }
    }

    private void Update(long sequence, Func<RequestLogEntry, RequestLogEntry> change)
    {
        lock (_gate)
        {
            // Entries are in sequence order: search from the end, where the requests in flight are.
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                if (_entries[i].Sequence == sequence)
                {
                    _entries[i] = change(_entries[i]);
                    return;
                }

                if (_entries[i].Sequence < sequence)
                {
                    return;
                }
            }
        }
    }
}
