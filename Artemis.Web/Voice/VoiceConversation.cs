using System.Text.Json;
using System.Text.Json.Nodes;

namespace Artemis.Web.Voice;

public enum VoiceState
{
    Idle,
    Connecting,
    Ready,
    Ended,
    Failed,
}

/// <summary>One line of the conversation: a user turn, an assistant turn, or a tool call with its result.</summary>
public sealed class VoiceEntry(string role, string id)
{
    public string Role { get; } = role;

    /// <summary>The item id (turns) or the call id (tools).</summary>
    public string Id { get; } = id;

    public string Text { get; set; } = "";

    /// <summary>A turn still being spoken or transcribed, a tool still running.</summary>
    public bool Partial { get; set; } = true;

    public string? ToolName { get; init; }

    public string? Arguments { get; init; }

    /// <summary>The tool's result as the model got it (JSON).</summary>
    public JsonNode? Result { get; set; }
}

public sealed record OpenedFile(string Path, string? Content, string? Error);

public sealed record VoiceCard(string Id, string Title);

/// <summary>
/// What the Voice page shows, built from the events of one session or more: the bridge's (ADR 008: ready, speech,
/// transcripts, tools, usage, errors, closing) and the page script's own (<c>local_…</c>: the microphone, the socket).
/// Kept apart from the page so that each event's effect is plain code.
/// </summary>
public sealed class VoiceConversation
{
    private const int MaxNotices = 5;

    /// <summary>
    /// The bridge relays the realtime model's errors. These say nothing to the user: a push-to-talk commit after the
    /// server's voice detection had already ended the turn, and the bridge's cancel of a response that had just finished
    /// (it cancels whatever may be in flight when a session ends).
    /// </summary>
    private static readonly HashSet<string> Benign = new(StringComparer.Ordinal) { "input_audio_buffer_commit_empty", "response_cancel_not_active" };

    private readonly List<VoiceEntry> _entries = [];
    private readonly List<string> _notices = [];
    private readonly List<VoiceCard> _cards = [];

    public VoiceState State { get; private set; } = VoiceState.Idle;

    public IReadOnlyList<VoiceEntry> Entries => _entries;

    /// <summary>Upstream errors that did not end the session, newest last.</summary>
    public IReadOnlyList<string> Notices => _notices;

    public IReadOnlyList<VoiceCard> Cards => _cards;

    public OpenedFile? OpenFile { get; private set; }

    /// <summary>The microphone could not be had (denied, missing, not offered to an insecure page).</summary>
    public string? MicrophoneProblem { get; private set; }

    /// <summary>The session ended without the user asking: why, in the bridge's or the relay's words.</summary>
    public string? ConnectionProblem { get; private set; }

    public int? CloseCode { get; private set; }

    public string? SessionId { get; private set; }

    public decimal SessionUsd { get; private set; }

    public bool Speaking { get; private set; }

    public bool Talking { get; private set; }

    public int? ContextRate { get; private set; }

    public bool Active => State is VoiceState.Connecting or VoiceState.Ready;

    /// <summary>A new attempt: the conversation so far stays on the page, the problems of the last attempt go.</summary>
    public void Starting()
    {
        State = VoiceState.Connecting;
        MicrophoneProblem = null;
        ConnectionProblem = null;
        CloseCode = null;
        _notices.Clear();
    }

    public void Apply(string json)
    {
        JsonObject message;
        try
        {
            message = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            return;
        }

        switch (Text(message, "type"))
        {
            case "local_connecting":
                State = VoiceState.Connecting;
                break;
            case "local_capture":
                ContextRate = (int?)message["contextRate"];
                break;
            case "local_mic_error":
                State = VoiceState.Failed;
                MicrophoneProblem = Text(message, "name") switch
                {
                    "NotAllowedError" or "SecurityError" =>
                        "The microphone was denied. Allow this site to use the microphone (the icon in the address bar), then start again.",
                    "NotFoundError" or "OverconstrainedError" => "No microphone was found. Connect one, then start again.",
                    "NotReadableError" or "AbortError" => "The microphone is in use by another program or could not be opened. Free it, then start again.",
                    _ => Text(message, "message") ?? "The microphone cannot be used.",
                };
                break;
            case "local_audio_error":
                State = VoiceState.Failed;
                MicrophoneProblem = $"The browser's audio could not be started: {Text(message, "message")}";
                break;
            case "local_ptt":
                Talking = (bool?)message["talking"] == true;
                break;
            case "local_closed":
                Closed(message);
                break;
            case "ready":
                State = VoiceState.Ready;
                SessionId = Text(message, "sessionId");
                break;
            case "speech_started":
                Speaking = true;
                Turn("user", Text(message, "itemId"));
                break;
            case "speech_stopped":
                Speaking = false;
                break;
            case "transcript":
                var entry = Turn(Text(message, "role") ?? "assistant", Text(message, "itemId"));
                entry.Text = Text(message, "text") ?? "";
                entry.Partial = false;
                break;
            case "transcript_delta":
                Turn(Text(message, "role") ?? "assistant", Text(message, "itemId")).Text += Text(message, "delta");
                break;
            case "tool_call":
                _entries.Add(new VoiceEntry("tool", Text(message, "callId") ?? "") { ToolName = Text(message, "name"), Arguments = Text(message, "arguments") });
                break;
            case "tool_result":
                var call = _entries.LastOrDefault(e => e.Role == "tool" && e.Id == Text(message, "callId"));
                if (call is null)
                {
                    call = new VoiceEntry("tool", Text(message, "callId") ?? "") { ToolName = Text(message, "name") };
                    _entries.Add(call);
                }

                call.Result = ParseOrText(Text(message, "output"));
                call.Partial = false;
                break;
            case "open_file":
                OpenFile = new OpenedFile(Text(message, "path") ?? "", Text(message, "content"), Text(message, "error"));
                break;
            case "card_created":
                _cards.Add(new VoiceCard(Text(message, "id") ?? "", Text(message, "title") ?? ""));
                break;
            case "usage":
                SessionUsd = (decimal?)message["sessionUsd"] ?? SessionUsd;
                break;
            case "closing":
                SessionUsd = (decimal?)message["sessionUsd"] ?? SessionUsd;
                break;
            case "error":
                Error(message);
                break;
        }
    }

    private void Closed(JsonObject message)
    {
        Speaking = false;
        Talking = false;
        CloseCode = (int?)message["code"];
        var reason = Text(message, "reason");
        if ((bool?)message["byUser"] == true)
        {
            State = VoiceState.Ended;
            return;
        }

        State = VoiceState.Failed;
        // 1006: the socket went without a close frame; a reason is all the page can show otherwise.
        // An error event before the close may already have said why, in more words than a close reason holds.
        ConnectionProblem ??= CloseCode == 1006 || string.IsNullOrEmpty(reason)
            ? "The connection to Artemis was lost (the network, the web or the Agents service went away)."
            : $"The voice session ended: {reason.TrimEnd('.')}.";
    }

    private void Error(JsonObject message)
    {
        var code = Text(message, "code") ?? "error";
        if (Benign.Contains(code))
        {
            return;
        }

        var text = $"{Text(message, "message")} ({code})";
        if (code is "budget_exhausted" or "agents_unavailable" or "bridge_unavailable" or "unavailable")
        {
            // The session is refused or ends: the close that follows shows it; this says why, in full.
            ConnectionProblem = text;
            return;
        }

        _notices.Add(text);
        if (_notices.Count > MaxNotices)
        {
            _notices.RemoveAt(0);
        }
    }

    private VoiceEntry Turn(string role, string? itemId)
    {
        var id = itemId ?? "";
        var entry = _entries.LastOrDefault(e => e.Role == role && e.Id == id);
        if (entry is null)
        {
            entry = new VoiceEntry(role, id);
            _entries.Add(entry);
        }

        return entry;
    }

    private static string? Text(JsonObject message, string name) =>
        message[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static JsonNode? ParseOrText(string? output)
    {
        if (output is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(output);
        }
        catch (JsonException)
        {
            return JsonValue.Create(output);
        }
    }
}
