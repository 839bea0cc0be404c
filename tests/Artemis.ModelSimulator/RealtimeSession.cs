using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Artemis.ModelSimulator;

/// <summary>
/// One realtime WebSocket connection: the session configuration, the conversation, the input audio buffer with its
/// VAD, and at most one response in progress (streamed by a task of its own, so that the client's events, a cancel
/// above all, are read while it speaks). Every send goes through one lock: WebSocket sends must not overlap.
/// </summary>
internal sealed class RealtimeSession(
    string id, string model, WebSocket socket, ScriptEngine engine, RequestLog log, TimeProvider time, ILogger logger) : IDisposable
{
    private static readonly JsonSerializerOptions EventJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly Lock _gate = new();
    private readonly List<ConversationItem> _items = [];
    private readonly MemoryStream _buffer = new();
    private readonly EnergyVad _vad = new();
    private readonly JsonObject _config = DefaultConfig(id, model);
    private CancellationToken _sessionToken;
    private ActiveResponse? _active;
    private string? _speechItemId;
    private long _ids;
    private int _commits;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var token = _sessionToken = cancellationToken;
        try
        {
            await SendAsync(Event("session.created", new JsonObject { ["session"] = _config.DeepClone() }), token);
            var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var (type, message) = await ReceiveAsync(buffer, token);
                    if (type == WebSocketMessageType.Close)
                    {
                        break;
                    }

                    if (message is null)
                    {
                        continue;
                    }

                    await HandleAsync(type, message, token);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException)
        {
            // The client went away, or the host is stopping.
        }
        finally
        {
            ActiveResponse? active;
            lock (_gate)
            {
                active = _active;
            }

            if (active is not null)
            {
                active.Cancel("client_cancelled");
                await active.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "session ended", timeout.Token)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Reads one whole message; one over the size limit gets an error and closes the session (1009).</summary>
    private async Task<(WebSocketMessageType Type, byte[]? Message)> ReceiveAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (WebSocketMessageType.Close, null);
            }

            if (message.Length + result.Count > RealtimeApi.MaxMessageBytes)
            {
                await ErrorAsync("invalid_request_error", "message_too_large",
                    $"A client event must be at most {RealtimeApi.MaxMessageBytes} bytes.", null, null, cancellationToken);
                await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "client event too large", cancellationToken);
                return (WebSocketMessageType.Close, null);
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    private async Task HandleAsync(WebSocketMessageType type, byte[] message, CancellationToken cancellationToken)
    {
        if (type != WebSocketMessageType.Text)
        {
            await ErrorAsync("invalid_request_error", "invalid_event", "Client events are JSON text messages; binary messages are not accepted.", null, null, cancellationToken);
            return;
        }

        JsonObject? clientEvent;
        try
        {
            clientEvent = JsonNode.Parse(message) as JsonObject;
        }
        catch (JsonException exception)
        {
            await ErrorAsync("invalid_request_error", "invalid_json", "The client event is not valid JSON: " + exception.Message, null, null, cancellationToken);
            return;
        }

        var eventId = (string?)(clientEvent?["event_id"] as JsonValue);
        var eventType = clientEvent?["type"] is JsonValue typeValue && typeValue.TryGetValue<string>(out var t) ? t : null;
        switch (eventType)
        {
            case null:
                await ErrorAsync("invalid_request_error", "missing_required_parameter", "Missing required parameter: 'type'.", "type", eventId, cancellationToken);
                break;
            case "session.update":
                await UpdateSessionAsync(clientEvent!, eventId, cancellationToken);
                break;
            case "input_audio_buffer.append":
                await AppendAsync(clientEvent!, eventId, cancellationToken);
                break;
            case "input_audio_buffer.commit":
                await CommitAsync(null, eventId, cancellationToken);
                break;
            case "input_audio_buffer.clear":
                lock (_gate)
                {
                    _buffer.SetLength(0);
                }

                await SendAsync(Event("input_audio_buffer.cleared", []), cancellationToken);
                break;
            case "conversation.item.create":
                await CreateItemAsync(clientEvent!, eventId, cancellationToken);
                break;
            case "response.create":
                await CreateResponseAsync(eventId, cancellationToken);
                break;
            case "response.cancel":
                Log("response.cancel", clientEvent!);
                if (!CancelActive("client_cancelled"))
                {
                    await ErrorAsync("invalid_request_error", "response_cancel_not_active", "Cancellation failed: no active response found.", null, eventId, cancellationToken);
                }

                break;
            case "conversation.item.truncate":
                await TruncateAsync(clientEvent!, eventId, cancellationToken);
                break;
            default:
                await ErrorAsync("invalid_request_error", "invalid_value",
                    $"Invalid value: '{eventType}'. The simulator supports session.update, input_audio_buffer.append, input_audio_buffer.commit, "
                    + "input_audio_buffer.clear, conversation.item.create, conversation.item.truncate, response.create and response.cancel.",
                    "type", eventId, cancellationToken);
                break;
        }
    }

    private async Task UpdateSessionAsync(JsonObject clientEvent, string? eventId, CancellationToken cancellationToken)
    {
        Log("session.update", clientEvent);
        if (clientEvent["session"] is not JsonObject update)
        {
            await ErrorAsync("invalid_request_error", "missing_required_parameter", "Missing required parameter: 'session'.", "session", eventId, cancellationToken);
            return;
        }

        if ((string?)(update["type"] as JsonValue) != "realtime")
        {
            await ErrorAsync("invalid_request_error", "missing_required_parameter",
                "Missing required parameter: 'session.type' (GA sessions are \"realtime\" or \"transcription\"; the simulator serves \"realtime\").",
                "session.type", eventId, cancellationToken);
            return;
        }

        foreach (var direction in (string[])["input", "output"])
        {
            if (update["audio"]?[direction]?["format"] is JsonObject format
                && ((string?)(format["type"] as JsonValue) != "audio/pcm" || (format["rate"] is JsonValue rate && rate.GetValue<int>() != RealtimeAudio.SampleRate)))
            {
                await ErrorAsync("invalid_request_error", "invalid_value",
                    $"Invalid value for 'session.audio.{direction}.format': the simulator speaks audio/pcm at 24000 Hz only.",
                    $"session.audio.{direction}.format", eventId, cancellationToken);
                return;
            }
        }

        lock (_gate)
        {
            Merge(_config, update);
        }

        await SendAsync(Event("session.updated", new JsonObject { ["session"] = Snapshot() }), cancellationToken);
    }

    private async Task AppendAsync(JsonObject clientEvent, string? eventId, CancellationToken cancellationToken)
    {
        byte[] audio;
        try
        {
            audio = Convert.FromBase64String((string?)(clientEvent["audio"] as JsonValue) ?? throw new FormatException("missing"));
        }
        catch (Exception exception) when (exception is FormatException or InvalidOperationException)
        {
            await ErrorAsync("invalid_request_error", "invalid_value", "Invalid 'audio': expected base64-encoded PCM16 audio.", "audio", eventId, cancellationToken);
            return;
        }

        var events = new List<VadEvent>();
        JsonObject? vad;
        lock (_gate)
        {
            _buffer.Write(audio);
            vad = _config["audio"]?["input"]?["turn_detection"] as JsonObject;
            if (vad is not null)
            {
                _vad.Feed(audio, Number(vad["threshold"], 0.5), (int)Number(vad["prefix_padding_ms"], 300), (int)Number(vad["silence_duration_ms"], 500), events);
            }
        }

        foreach (var vadEvent in events)
        {
            if (vadEvent.Started)
            {
                var itemId = NewId("item");
                lock (_gate)
                {
                    _speechItemId = itemId;
                }

                await SendAsync(Event("input_audio_buffer.speech_started", new JsonObject { ["audio_start_ms"] = vadEvent.AudioMs, ["item_id"] = itemId }), cancellationToken);
                if (Flag(vad!["interrupt_response"], true))
                {
                    CancelActive("turn_detected");
                }
            }
            else
            {
                string itemId;
                lock (_gate)
                {
                    itemId = _speechItemId ?? NewId("item");
                    _speechItemId = null;
                }

                await SendAsync(Event("input_audio_buffer.speech_stopped", new JsonObject { ["audio_end_ms"] = vadEvent.AudioMs, ["item_id"] = itemId }), cancellationToken);
                if (await CommitAsync(itemId, null, cancellationToken) && Flag(vad!["create_response"], true))
                {
                    await CreateResponseAsync(null, cancellationToken);
                }
            }
        }
    }

    /// <summary>Commits the buffer as a user audio item, with its scripted transcript; false when it was too short.</summary>
    private async Task<bool> CommitAsync(string? itemId, string? eventId, CancellationToken cancellationToken)
    {
        int audioMs;
        string transcript;
        string? previous;
        bool transcribe;
        lock (_gate)
        {
            audioMs = RealtimeAudio.Milliseconds(_buffer.Length);
            if (audioMs >= 100)
            {
                _buffer.SetLength(0);
                var transcripts = engine.Current.Realtime?.UserTranscripts;
                transcript = transcripts is { Count: > 0 } ? transcripts[Math.Min(_commits, transcripts.Count - 1)] : "";
                _commits++;
                previous = _items.Count > 0 ? _items[^1].Id : null;
                itemId ??= NewId("item");
                _items.Add(new ConversationItem(itemId, "message", "user") { AudioMs = audioMs, Transcript = transcript });
                transcribe = _config["audio"]?["input"]?["transcription"] is JsonObject;
            }
            else
            {
                transcript = "";
                previous = null;
                transcribe = false;
            }
        }

        if (audioMs < 100)
        {
            await ErrorAsync("invalid_request_error", "input_audio_buffer_commit_empty",
                $"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has {audioMs}ms of audio.",
                null, eventId, cancellationToken);
            return false;
        }

        await SendAsync(Event("input_audio_buffer.committed", new JsonObject { ["previous_item_id"] = previous, ["item_id"] = itemId }), cancellationToken);
        var item = new JsonObject
        {
            ["id"] = itemId, ["object"] = "realtime.item", ["type"] = "message", ["status"] = "completed", ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "input_audio", ["transcript"] = null }),
        };
        await SendAsync(Event("conversation.item.added", new JsonObject { ["previous_item_id"] = previous, ["item"] = item.DeepClone() }), cancellationToken);
        await SendAsync(Event("conversation.item.done", new JsonObject { ["previous_item_id"] = previous, ["item"] = item }), cancellationToken);
        if (transcribe)
        {
            await SendAsync(Event("conversation.item.input_audio_transcription.completed", new JsonObject
            {
                ["item_id"] = itemId,
                ["content_index"] = 0,
                ["transcript"] = transcript,
                ["usage"] = new JsonObject
                {
                    ["type"] = "tokens",
                    ["input_tokens"] = Ceiling(audioMs, 100),
                    ["output_tokens"] = Ceiling(transcript.Length, 4) + 1,
                    ["total_tokens"] = Ceiling(audioMs, 100) + Ceiling(transcript.Length, 4) + 1,
                    ["input_token_details"] = new JsonObject { ["text_tokens"] = 0, ["audio_tokens"] = Ceiling(audioMs, 100) },
                },
            }), cancellationToken);
        }

        return true;
    }

    private async Task CreateItemAsync(JsonObject clientEvent, string? eventId, CancellationToken cancellationToken)
    {
        if (clientEvent["item"] is not JsonObject item)
        {
            await ErrorAsync("invalid_request_error", "missing_required_parameter", "Missing required parameter: 'item'.", "item", eventId, cancellationToken);
            return;
        }

        var itemType = (string?)(item["type"] as JsonValue);
        ConversationItem added;
        switch (itemType)
        {
            case "function_call_output":
                var callId = (string?)(item["call_id"] as JsonValue);
                bool known;
                lock (_gate)
                {
                    known = _items.Any(i => i.Type == "function_call" && i.CallId == callId);
                }

                if (!known)
                {
                    await ErrorAsync("invalid_request_error", "invalid_value",
                        $"Invalid 'item.call_id': no function call with id '{callId}' in the conversation.", "item.call_id", eventId, cancellationToken);
                    return;
                }

                added = new ConversationItem((string?)(item["id"] as JsonValue) ?? NewId("item"), "function_call_output", "tool")
                {
                    CallId = callId,
                    Transcript = (string?)(item["output"] as JsonValue) ?? "",
                };
                break;
            case "message":
                var role = (string?)(item["role"] as JsonValue) ?? "user";
                var text = string.Concat((item["content"] as JsonArray ?? []).Select(part => (string?)(part?["text"] as JsonValue) ?? ""));
                added = new ConversationItem((string?)(item["id"] as JsonValue) ?? NewId("item"), "message", role) { Transcript = text };
                break;
            default:
                await ErrorAsync("invalid_request_error", "invalid_value",
                    $"Invalid 'item.type': '{itemType}'. The simulator accepts message and function_call_output items.", "item.type", eventId, cancellationToken);
                return;
        }

        string? previous;
        lock (_gate)
        {
            previous = _items.Count > 0 ? _items[^1].Id : null;
            _items.Add(added);
        }

        var echoed = (JsonObject)item.DeepClone();
        echoed["id"] = added.Id;
        echoed["object"] = "realtime.item";
        echoed["status"] = "completed";
        await SendAsync(Event("conversation.item.added", new JsonObject { ["previous_item_id"] = previous, ["item"] = echoed.DeepClone() }), cancellationToken);
        await SendAsync(Event("conversation.item.done", new JsonObject { ["previous_item_id"] = previous, ["item"] = echoed }), cancellationToken);
    }

    private async Task TruncateAsync(JsonObject clientEvent, string? eventId, CancellationToken cancellationToken)
    {
        Log("conversation.item.truncate", clientEvent);
        var itemId = (string?)(clientEvent["item_id"] as JsonValue);
        var contentIndex = (int)Number(clientEvent["content_index"], 0);
        var audioEndMs = (int)Number(clientEvent["audio_end_ms"], -1);
        string? problem = null;
        lock (_gate)
        {
            var item = _items.FirstOrDefault(i => i.Id == itemId);
            if (item is null)
            {
                problem = $"Invalid 'item_id': no item '{itemId}' in the conversation.";
            }
            else if (item.Role != "assistant" || item.AudioMs == 0)
            {
                problem = $"Invalid 'item_id': item '{itemId}' is not an assistant message with audio.";
            }
            else if (audioEndMs < 0 || audioEndMs > item.AudioMs)
            {
                problem = $"Invalid 'audio_end_ms': {audioEndMs} is not within the item's {item.AudioMs} ms of audio.";
            }
            else
            {
                // Truncating removes the transcript too: no text the user did not hear stays in the context.
                item.AudioMs = audioEndMs;
                item.Transcript = "";
            }
        }

        if (problem is not null)
        {
            await ErrorAsync("invalid_request_error", "invalid_value", problem, "audio_end_ms", eventId, cancellationToken);
            return;
        }

        await SendAsync(Event("conversation.item.truncated", new JsonObject { ["item_id"] = itemId, ["content_index"] = contentIndex, ["audio_end_ms"] = audioEndMs }), cancellationToken);
    }

    private async Task CreateResponseAsync(string? eventId, CancellationToken cancellationToken)
    {
        ActiveResponse response;
        lock (_gate)
        {
            if (_active is null)
            {
                response = _active = new ActiveResponse(NewId("resp"), CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
                response.Completion = Task.Run(() => RespondAsync(response), CancellationToken.None);
                return;
            }
        }

        await ErrorAsync("invalid_request_error", "conversation_already_has_active_response",
            "Conversation already has an active response in progress. Wait until the response is finished before creating a new one.",
            null, eventId, cancellationToken);
    }

    private bool CancelActive(string reason)
    {
        lock (_gate)
        {
            if (_active is null)
            {
                return false;
            }

            _active.Cancel(reason);
            return true;
        }
    }

    /// <summary>Answers with the script: one audio message (tone + transcript) and/or function calls, then response.done with usage.</summary>
    private async Task RespondAsync(ActiveResponse response)
    {
        var sessionToken = _sessionToken;
        long sequence = 0;
        try
        {
            ChatRequest request;
            int? maxTokens;
            lock (_gate)
            {
                maxTokens = _config["max_output_tokens"] is JsonValue max && max.TryGetValue<int>(out var m) ? m : null;
                request = ChatRequest.FromConversation(model, ConversationView(), ToolNames(), maxTokens);
            }

            sequence = log.Add(RealtimeApi.Path, model, new RealtimeLogDetails(id, "response", response.Id, "in_progress", null), request.MessagesJson, request.ToolNames);
            var decision = engine.Decide(request);
            var status = "completed";
            JsonObject? statusDetails = null;
            var outputs = new JsonArray();
            JsonObject usage = Usage(0, 0, 0, 0, 0, 0);
            var responseObject = ResponseObject(response.Id, "in_progress", null, [], null);
            if (decision.Fault is { Kind: FaultKinds.Drop })
            {
                log.CompleteRealtime(sequence, "dropped", JsonSerializer.SerializeToElement(Usage(0, 0, 0, 0, 0, 0)), decision.Step, FaultKinds.Drop);
                socket.Abort();
                return;
            }

            if (decision.Modifier is { Kind: FaultKinds.Slow } slow)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(slow.DelayMs ?? 0), time, response.Token);
            }

            await SendAsync(Event("response.created", new JsonObject { ["response"] = responseObject }), sessionToken);
            if (decision.NoMatch is { } noMatch || decision.Fault is { Kind: FaultKinds.Status })
            {
                var fault = decision.Fault;
                status = "failed";
                statusDetails = new JsonObject
                {
                    ["type"] = "failed",
                    ["error"] = new JsonObject
                    {
                        ["type"] = fault?.Status == 429 ? "requests" : fault?.Status >= 500 ? "server_error" : "invalid_request_error",
                        ["code"] = fault?.Status == 429 ? "rate_limit_exceeded" : fault is null ? "no_script_step" : null,
                        ["message"] = fault?.Message ?? decision.NoMatch ?? "The response failed (simulated by the Artemis model simulator).",
                    },
                };
            }
            else
            {
                var reply = ReplyPlanner.Plan(request, decision.Reply!, decision.Modifier, engine);
                var (sentFraction, audioSentMs) = await SpeakAsync(response, reply, decision.Reply!.AudioMs, outputs);
                if (response.Token.IsCancellationRequested)
                {
                    status = "cancelled";
                    statusDetails = new JsonObject { ["type"] = "cancelled", ["reason"] = response.Reason };
                }
                else
                {
                    foreach (var call in reply.ToolCalls)
                    {
                        await CallToolAsync(response.Id, call, outputs, sessionToken);
                    }
                }

                usage = PlanUsage(request, reply, decision.Reply.Usage, audioSentMs, sentFraction);
            }

            var final = ResponseObject(response.Id, status, statusDetails, outputs, status == "failed" ? null : usage);
            // Logged before response.done is sent: a client holding response.done always finds it in the log.
            log.CompleteRealtime(sequence, status, JsonSerializer.SerializeToElement(final["usage"] ?? Usage(0, 0, 0, 0, 0, 0)), decision.Step,
                decision.Fault?.Kind ?? decision.Modifier?.Kind);
            SimulatorLog.RealtimeResponseDone(logger, id, response.Id, status, decision.Step);
            lock (_gate)
            {
                _active = null;
            }

            await SendAsync(Event("response.done", new JsonObject { ["response"] = final }), sessionToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            if (sequence > 0)
            {
                log.Cancel(sequence);
            }
        }
        finally
        {
            lock (_gate)
            {
                if (_active == response)
                {
                    _active = null;
                }
            }

            response.Dispose();
        }
    }

    /// <summary>Streams the spoken part of a reply; returns the fraction of it sent and its milliseconds of audio sent.</summary>
    private async Task<(double Fraction, int AudioMs)> SpeakAsync(ActiveResponse response, PlannedReply reply, int? scriptedAudioMs, JsonArray outputs)
    {
        if (reply.Content is not { } content)
        {
            return (1, 0);
        }

        var sessionToken = _sessionToken;
        var itemId = NewId("item");
        var outputIndex = outputs.Count;
        var audioMs = scriptedAudioMs ?? Math.Max(RealtimeAudio.ChunkMs, content.Length * 60);
        var chunks = Math.Max(1, Ceiling(audioMs, RealtimeAudio.ChunkMs));
        var gap = reply.Delay / chunks;
        string? previous;
        var item = new ConversationItem(itemId, "message", "assistant");
        lock (_gate)
        {
            previous = _items.Count > 0 ? _items[^1].Id : null;
            _items.Add(item);
        }

        JsonObject ItemJson(string status, string transcript) => new()
        {
            ["id"] = itemId, ["object"] = "realtime.item", ["type"] = "message", ["status"] = status, ["role"] = "assistant",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "output_audio", ["transcript"] = transcript }),
        };
        JsonObject At() => new() { ["response_id"] = response.Id, ["item_id"] = itemId, ["output_index"] = outputIndex, ["content_index"] = 0 };

        var added = ItemJson("in_progress", "");
        added["content"] = new JsonArray();
        await SendAsync(Event("response.output_item.added", new JsonObject { ["response_id"] = response.Id, ["output_index"] = outputIndex, ["item"] = added.DeepClone() }), sessionToken);
        await SendAsync(Event("conversation.item.added", new JsonObject { ["previous_item_id"] = previous, ["item"] = added }), sessionToken);
        var part = At();
        part["part"] = new JsonObject { ["type"] = "audio", ["transcript"] = "" };
        await SendAsync(Event("response.content_part.added", part), sessionToken);

        var sentMs = 0;
        var sentChunks = 0;
        var transcript = new StringBuilder();
        for (var i = 0; i < chunks && !response.Token.IsCancellationRequested; i++)
        {
            var ms = Math.Min(RealtimeAudio.ChunkMs, audioMs - sentMs);
            var audio = At();
            audio["delta"] = Convert.ToBase64String(RealtimeAudio.Tone((long)sentMs * RealtimeAudio.SampleRate / 1000, ms * RealtimeAudio.SampleRate / 1000));
            await SendAsync(Event("response.output_audio.delta", audio), sessionToken);
            sentMs += ms;
            sentChunks++;
            var piece = content[(content.Length * i / chunks)..(content.Length * (i + 1) / chunks)];
            if (piece.Length > 0)
            {
                transcript.Append(piece);
                var text = At();
                text["delta"] = piece;
                await SendAsync(Event("response.output_audio_transcript.delta", text), sessionToken);
            }

            lock (_gate)
            {
                item.AudioMs = sentMs;
                item.Transcript = transcript.ToString();
            }

            if (gap > TimeSpan.Zero && i < chunks - 1)
            {
                try
                {
                    await Task.Delay(gap, time, response.Token);
                }
                catch (OperationCanceledException) when (response.Token.IsCancellationRequested && !sessionToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }

        var complete = !response.Token.IsCancellationRequested;
        await SendAsync(Event("response.output_audio.done", At()), sessionToken);
        var done = At();
        done["transcript"] = transcript.ToString();
        await SendAsync(Event("response.output_audio_transcript.done", done), sessionToken);
        var partDone = At();
        partDone["part"] = new JsonObject { ["type"] = "audio", ["transcript"] = transcript.ToString() };
        await SendAsync(Event("response.content_part.done", partDone), sessionToken);
        var final = ItemJson(complete ? "completed" : "incomplete", transcript.ToString());
        outputs.Add(final.DeepClone());
        await SendAsync(Event("response.output_item.done", new JsonObject { ["response_id"] = response.Id, ["output_index"] = outputIndex, ["item"] = final.DeepClone() }), sessionToken);
        await SendAsync(Event("conversation.item.done", new JsonObject { ["previous_item_id"] = previous, ["item"] = final }), sessionToken);
        return ((double)sentChunks / chunks, sentMs);
    }

    private async Task CallToolAsync(string responseId, PlannedToolCall call, JsonArray outputs, CancellationToken cancellationToken)
    {
        var itemId = NewId("item");
        var outputIndex = outputs.Count;
        string? previous;
        lock (_gate)
        {
            previous = _items.Count > 0 ? _items[^1].Id : null;
            _items.Add(new ConversationItem(itemId, "function_call", "assistant") { CallId = call.Id, Name = call.Name, Transcript = call.Arguments });
        }

        JsonObject ItemJson(string status, string arguments) => new()
        {
            ["id"] = itemId, ["object"] = "realtime.item", ["type"] = "function_call", ["status"] = status,
            ["call_id"] = call.Id, ["name"] = call.Name, ["arguments"] = arguments,
        };

        await SendAsync(Event("response.output_item.added", new JsonObject { ["response_id"] = responseId, ["output_index"] = outputIndex, ["item"] = ItemJson("in_progress", "") }), cancellationToken);
        await SendAsync(Event("conversation.item.added", new JsonObject { ["previous_item_id"] = previous, ["item"] = ItemJson("in_progress", "") }), cancellationToken);
        await SendAsync(Event("response.function_call_arguments.delta", new JsonObject
        {
            ["response_id"] = responseId, ["item_id"] = itemId, ["output_index"] = outputIndex, ["call_id"] = call.Id, ["delta"] = call.Arguments,
        }), cancellationToken);
        await SendAsync(Event("response.function_call_arguments.done", new JsonObject
        {
            ["response_id"] = responseId, ["item_id"] = itemId, ["output_index"] = outputIndex, ["call_id"] = call.Id, ["name"] = call.Name, ["arguments"] = call.Arguments,
        }), cancellationToken);
        outputs.Add(ItemJson("completed", call.Arguments));
        await SendAsync(Event("response.output_item.done", new JsonObject { ["response_id"] = responseId, ["output_index"] = outputIndex, ["item"] = ItemJson("completed", call.Arguments) }), cancellationToken);
        await SendAsync(Event("conversation.item.done", new JsonObject { ["previous_item_id"] = previous, ["item"] = ItemJson("completed", call.Arguments) }), cancellationToken);
    }

    /// <summary>
    /// The usage a response reports (README.md): the script's figures, or computed; a cancelled response reports
    /// the share of its output it sent.
    /// </summary>
    private JsonObject PlanUsage(ChatRequest request, PlannedReply reply, ScriptUsage? scripted, int audioSentMs, double sentFraction)
    {
        int inputAudio;
        lock (_gate)
        {
            inputAudio = _items.Sum(i => i.Role == "user" ? Ceiling(i.AudioMs, 100) : Ceiling(i.AudioMs, 50));
        }

        var input = scripted?.PromptTokens ?? ReplyPlanner.PromptTokens(request) + inputAudio;
        inputAudio = Math.Min(input, scripted?.InputAudioTokens ?? inputAudio);
        var cached = Math.Min(input, scripted?.CachedTokens ?? 0);
        var outputAudio = scripted?.OutputAudioTokens ?? Ceiling(audioSentMs, 50);
        var output = scripted?.CompletionTokens ?? (reply.ToolCalls.Count > 0 || reply.Content is not null
            ? ReplyPlanner.CompletionTokens(reply.Content, reply.ToolCalls) + outputAudio
            : 0);
        if (sentFraction < 1)
        {
            output = (int)Math.Ceiling(output * sentFraction);
            outputAudio = Math.Min(output, (int)Math.Ceiling(outputAudio * sentFraction));
        }

        outputAudio = Math.Min(output, outputAudio);
        var cachedText = Math.Min(cached, input - inputAudio);
        return Usage(input, inputAudio, cached, cachedText, output, outputAudio);
    }

    private static JsonObject Usage(int input, int inputAudio, int cached, int cachedText, int output, int outputAudio) => new()
    {
        ["total_tokens"] = input + output,
        ["input_tokens"] = input,
        ["output_tokens"] = output,
        ["input_token_details"] = new JsonObject
        {
            ["text_tokens"] = input - inputAudio,
            ["audio_tokens"] = inputAudio,
            ["image_tokens"] = 0,
            ["cached_tokens"] = cached,
            ["cached_tokens_details"] = new JsonObject { ["text_tokens"] = cachedText, ["audio_tokens"] = cached - cachedText, ["image_tokens"] = 0 },
        },
        ["output_token_details"] = new JsonObject { ["text_tokens"] = output - outputAudio, ["audio_tokens"] = outputAudio },
    };

    private JsonObject ResponseObject(string responseId, string status, JsonObject? statusDetails, JsonArray output, JsonObject? usage)
    {
        JsonNode? maxTokens;
        JsonNode? audioOutput;
        lock (_gate)
        {
            maxTokens = _config["max_output_tokens"]?.DeepClone();
            audioOutput = _config["audio"]?["output"]?.DeepClone();
        }

        return new JsonObject
        {
            ["object"] = "realtime.response",
            ["id"] = responseId,
            ["status"] = status,
            ["status_details"] = statusDetails,
            ["output"] = output.DeepClone(),
            ["conversation_id"] = "conv_" + id,
            ["output_modalities"] = new JsonArray("audio"),
            ["max_output_tokens"] = maxTokens,
            ["audio"] = new JsonObject { ["output"] = audioOutput },
            ["usage"] = usage,
            ["metadata"] = null,
        };
    }

    /// <summary>The conversation as chat messages, for the script engine: instructions, transcripts, tool outputs.</summary>
    private List<ChatMessageView> ConversationView()
    {
        var messages = new List<ChatMessageView>();
        if ((string?)(_config["instructions"] as JsonValue) is { Length: > 0 } instructions)
        {
            messages.Add(new ChatMessageView("system", instructions));
        }

        messages.AddRange(_items.Select(item => new ChatMessageView(item.Role, item.Type == "function_call" ? "" : item.Transcript)));
        if (messages.Count == 0)
        {
            messages.Add(new ChatMessageView("user", ""));
        }

        return messages;
    }

    private List<string> ToolNames() =>
        [.. (_config["tools"] as JsonArray ?? []).Select(tool => (string?)(tool?["name"] as JsonValue)).OfType<string>()];

    private JsonObject Snapshot()
    {
        lock (_gate)
        {
            return (JsonObject)_config.DeepClone();
        }
    }

    private void Log(string eventType, JsonObject clientEvent)
    {
        // Audio payloads are long and say nothing a test checks; the log keeps the shape of the event.
        log.Add(RealtimeApi.Path, model, new RealtimeLogDetails(id, eventType, null, null, JsonSerializer.SerializeToElement(clientEvent)));
    }

    private async Task ErrorAsync(string type, string code, string message, string? param, string? eventId, CancellationToken cancellationToken)
    {
        SimulatorLog.RealtimeClientError(logger, id, message);
        await SendAsync(Event("error", new JsonObject
        {
            ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["message"] = message, ["param"] = param, ["event_id"] = eventId },
        }), cancellationToken);
    }

    private JsonObject Event(string type, JsonObject body)
    {
        var result = new JsonObject { ["type"] = type, ["event_id"] = NewId("event") };
        foreach (var (key, value) in body.ToList())
        {
            body.Remove(key);
            result[key] = value;
        }

        return result;
    }

    private async Task SendAsync(JsonObject serverEvent, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(serverEvent.ToJsonString(EventJson));
        await _send.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, true, cancellationToken);
        }
        finally
        {
            _send.Release();
        }
    }

    private string NewId(string prefix) =>
        prefix + "_sim" + Interlocked.Increment(ref _ids).ToString("D6", CultureInfo.InvariantCulture) + "_" + id[^4..];

    private static int Ceiling(int value, int divisor) => (value + divisor - 1) / divisor;

    private static double Number(JsonNode? node, double fallback) =>
        node is JsonValue value && value.TryGetValue<double>(out var number) ? number : fallback;

    private static bool Flag(JsonNode? node, bool fallback) =>
        node is JsonValue value && value.TryGetValue<bool>(out var flag) ? flag : fallback;

    /// <summary>session.update semantics: objects merge field by field, anything else (null included) replaces.</summary>
    private static void Merge(JsonObject target, JsonObject update)
    {
        foreach (var (key, value) in update)
        {
            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private static JsonObject DefaultConfig(string id, string model) => new()
    {
        ["type"] = "realtime",
        ["object"] = "realtime.session",
        ["id"] = id,
        ["model"] = model,
        ["output_modalities"] = new JsonArray("audio"),
        ["instructions"] = "",
        ["tools"] = new JsonArray(),
        ["tool_choice"] = "auto",
        ["max_output_tokens"] = "inf",
        ["tracing"] = null,
        ["truncation"] = "auto",
        ["prompt"] = null,
        ["include"] = null,
        ["audio"] = new JsonObject
        {
            ["input"] = new JsonObject
            {
                ["format"] = new JsonObject { ["type"] = "audio/pcm", ["rate"] = RealtimeAudio.SampleRate },
                ["transcription"] = null,
                ["noise_reduction"] = null,
                ["turn_detection"] = new JsonObject
                {
                    ["type"] = "server_vad", ["threshold"] = 0.5, ["prefix_padding_ms"] = 300, ["silence_duration_ms"] = 500,
                    ["create_response"] = true, ["interrupt_response"] = true, ["idle_timeout_ms"] = null,
                },
            },
            ["output"] = new JsonObject
            {
                ["format"] = new JsonObject { ["type"] = "audio/pcm", ["rate"] = RealtimeAudio.SampleRate },
                ["voice"] = "alloy",
                ["speed"] = 1.0,
            },
        },
    };

    public void Dispose()
    {
        _send.Dispose();
        _buffer.Dispose();
    }

    private sealed class ConversationItem(string id, string type, string role)
    {
        public string Id { get; } = id;

        public string Type { get; } = type;

        public string Role { get; } = role;

        public int AudioMs { get; set; }

        public string Transcript { get; set; } = "";

        public string? CallId { get; init; }

        public string? Name { get; init; }
    }

    private sealed class ActiveResponse(string id, CancellationTokenSource cancellation) : IDisposable
    {
        public string Id { get; } = id;

        public CancellationToken Token { get; } = cancellation.Token;

        public string Reason { get; private set; } = "client_cancelled";

        public Task Completion { get; set; } = Task.CompletedTask;

        public void Cancel(string reason)
        {
            Reason = reason;
            try
            {
                cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already finished.
            }
        }

        public void Dispose() => cancellation.Dispose();
    }
}
