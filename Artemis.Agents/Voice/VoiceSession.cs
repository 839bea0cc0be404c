// The OpenAI 2.x realtime client is marked experimental (OPENAI002); ADR 008 says why the bridge uses it anyway.
#pragma warning disable OPENAI002

using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Costs;
using OpenAI.Realtime;

namespace Artemis.Agents.Voice;

/// <summary>
/// One browser's voice session: the browser's WebSocket on one side, an upstream realtime session (the OpenAI
/// client's <see cref="RealtimeSessionClient"/>) on the other. ADR 008 describes the browser protocol. Two loops:
/// the browser's frames (audio up, control messages) and the upstream's updates (audio and events down, VAD turns,
/// tools, usage). Any bad input from the browser ends this session only, with a close status and reason.
/// </summary>
public sealed class VoiceSession : IDisposable
{
    private readonly WebSocket _browser;
    private readonly RealtimeSessionClient _upstream;
    private readonly VoiceCosts _costs;
    private readonly IVoiceTools _tools;
    private readonly VoiceOptions _options;
    private readonly ILogger _logger;
    private readonly BrowserChannel _out;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Playback> _playback = [];
    private PcmInput _input = new(PcmInput.SampleRate);
    private bool _audioStarted;
    private bool _responseActive;
    private bool _responseWanted;
    private bool _toolOutputsSent;
    private VoiceCosts.PendingResponse? _pending;
    private string? _responseId;
    private string? _speakingItem;
    private TaskCompletionSource? _responseDone;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeReason;

    public VoiceSession(string id, WebSocket browser, RealtimeSessionClient upstream, VoiceCosts costs, IVoiceTools tools, VoiceOptions options,
        ILogger logger)
    {
        Id = id;
        _browser = browser;
        _upstream = upstream;
        _costs = costs;
        _tools = tools;
        _options = options;
        _logger = logger;
        _out = new BrowserChannel(browser, options.SendQueueCapacity, TimeSpan.FromMilliseconds(options.SendStallTimeoutMs), reason => End(WebSocketCloseStatus.PolicyViolation, reason, abort: true));
    }

    public string Id { get; }

    public decimal SessionUsd => _costs.SessionUsd;

    /// <summary>Why the session ended (null while it runs).</summary>
    public string? CloseReason => _closeReason;

    public WebSocketCloseStatus CloseStatus => _closeStatus;

    /// <summary>Ends the session: the loops stop, usage is settled, the browser gets the close status and reason.</summary>
    public void End(WebSocketCloseStatus status, string reason, bool abort = false)
    {
        lock (_gate)
        {
            if (_closeReason is not null)
            {
                return;
            }

            _closeStatus = status;
            _closeReason = reason;
        }

        if (abort)
        {
            _browser.Abort();
        }

        _ended.TrySetResult();
    }

    /// <summary>
    /// Configures the upstream session, then bridges until either side ends. Then, in order: the response in flight is
    /// cancelled and its usage awaited (the upstream is still read for it), the upstream is closed, and the browser gets
    /// the close status and reason. Neither socket's receive is ever cancelled by a token: that would abort it, and
    /// the browser would see no close reason.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var writer = _out.RunAsync(CancellationToken.None);
        using var upstreamStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task? upstream = null;
        Task? browser = null;
        try
        {
            var tools = _tools.Definitions();
            _costs.Start(_options.Instructions, tools.ToJsonString());
            if (await _costs.ProbeAsync() is { } refused)
            {
                await EndForBudgetAsync(refused, "a response");
                return;
            }

            await SendUpstreamAsync(SessionUpdate(tools), upstreamStop.Token);
            upstream = Task.Run(() => UpstreamLoopAsync(upstreamStop.Token), CancellationToken.None);
            browser = Task.Run(BrowserLoopAsync, CancellationToken.None);
            await _ended.Task;
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException or System.ClientModel.ClientResultException)
        {
            End(WebSocketCloseStatus.EndpointUnavailable, "the model's realtime session failed");
        }
        finally
        {
            await FinishResponseAsync();
            if (_upstream.WebSocket.State == WebSocketState.Open)
            {
                // A polite close, so the model's side ends the session at once rather than on a broken connection.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _upstream.WebSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "voice session ended", timeout.Token)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await upstreamStop.CancelAsync();
            if (upstream is not null)
            {
                await upstream.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await _out.SendEventAsync(new JsonObject { ["type"] = "closing", ["code"] = (int)_closeStatus, ["reason"] = _closeReason, ["sessionUsd"] = _costs.SessionUsd });
            _out.Complete(_closeStatus, _closeReason ?? "session ended");
            await writer;
            if (browser is not null && await Task.WhenAny(browser, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) != browser)
            {
                // The browser did not answer the close: nothing more will come from it.
                _browser.Abort();
                await browser.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private JsonObject SessionUpdate(JsonArray tools)
    {
        var input = new JsonObject
        {
            ["format"] = new JsonObject { ["type"] = "audio/pcm", ["rate"] = PcmInput.SampleRate },
            // The bridge asks for each response itself (after reserving its worst case) and handles barge-in
            // itself (cancel + truncate to what the browser played), so the server does neither on its own.
            ["turn_detection"] = new JsonObject
            {
                ["type"] = "server_vad",
                ["threshold"] = _options.VadThreshold,
                ["prefix_padding_ms"] = _options.VadPrefixPaddingMs,
                ["silence_duration_ms"] = _options.VadSilenceDurationMs,
                ["create_response"] = false,
                ["interrupt_response"] = false,
            },
        };
        if (!string.IsNullOrWhiteSpace(_options.TranscriptionModel))
        {
            input["transcription"] = new JsonObject { ["model"] = _options.TranscriptionModel };
        }

        return new JsonObject
        {
            ["type"] = "session.update",
            ["session"] = new JsonObject
            {
                ["type"] = "realtime",
                ["instructions"] = _options.Instructions,
                ["output_modalities"] = new JsonArray("audio"),
                ["max_output_tokens"] = _options.MaxOutputTokens,
                ["tools"] = tools,
                ["tool_choice"] = "auto",
                ["audio"] = new JsonObject
                {
                    ["input"] = input,
                    ["output"] = new JsonObject
                    {
                        ["format"] = new JsonObject { ["type"] = "audio/pcm", ["rate"] = PcmInput.SampleRate },
                        ["voice"] = _options.VoiceName,
                    },
                },
            },
        };
    }

    private async Task BrowserLoopAsync()
    {
        var cancellationToken = CancellationToken.None;
        var limit = Math.Max(_options.MaxAudioFrameBytes, _options.MaxControlMessageBytes);
        var buffer = new byte[limit + 1];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _browser.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        End(WebSocketCloseStatus.NormalClosure, "the browser closed the session");
                        return;
                    }

                    length += result.Count;
                    if (length > limit && _closeReason is null)
                    {
                        End(WebSocketCloseStatus.MessageTooBig, $"message too large: more than {limit} bytes");
                        return;
                    }
                }
                while (!result.EndOfMessage);

                if (_closeReason is not null)
                {
                    // Ending: what the browser still sends is not bridged; its answer to the close ends this loop.
                    continue;
                }

                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    await OnAudioAsync(buffer.AsSpan(0, length).ToArray(), cancellationToken);
                }
                else
                {
                    await OnControlAsync(buffer.AsMemory(0, length), cancellationToken);
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException or System.ClientModel.ClientResultException)
        {
            End(WebSocketCloseStatus.NormalClosure, "the browser went away");
        }
    }

    private async Task OnAudioAsync(byte[] frame, CancellationToken cancellationToken)
    {
        if (frame.Length > _options.MaxAudioFrameBytes)
        {
            End(WebSocketCloseStatus.MessageTooBig, $"audio frame too large: {frame.Length} bytes, at most {_options.MaxAudioFrameBytes}");
            return;
        }

        if (frame.Length % 2 != 0)
        {
            End(WebSocketCloseStatus.InvalidPayloadData, $"audio frame of odd length ({frame.Length} bytes): expected PCM16 samples");
            return;
        }

        _audioStarted = true;
        var pcm = _input.Convert(frame);
        if (pcm.Length == 0)
        {
            return;
        }

        try
        {
            // Reserves the transcription of this audio (when it is on) before it is sent.
            await _costs.AddAudioAsync(pcm.Length);
        }
        catch (BudgetExceededException exception)
        {
            await EndForBudgetAsync(exception, "transcribing more audio");
            return;
        }

        await SendUpstreamAsync(new JsonObject { ["type"] = "input_audio_buffer.append", ["audio"] = Convert.ToBase64String(pcm) }, cancellationToken);
    }

    private async Task OnControlAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (message.Length > _options.MaxControlMessageBytes)
        {
            End(WebSocketCloseStatus.MessageTooBig, $"control message too large: {message.Length} bytes, at most {_options.MaxControlMessageBytes}");
            return;
        }

        JsonObject control;
        try
        {
            control = JsonNode.Parse(message.Span) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            End(WebSocketCloseStatus.InvalidPayloadData, "malformed control message: expected a JSON object with a type");
            return;
        }

        switch ((string?)(control["type"] as JsonValue))
        {
            case "start":
                var rate = control["sampleRate"] is JsonValue value && value.TryGetValue<int>(out var r) ? r : -1;
                if (_audioStarted)
                {
                    End(WebSocketCloseStatus.PolicyViolation, "'start' must come before any audio");
                }
                else if (rate is < PcmInput.MinSampleRate or > PcmInput.MaxSampleRate)
                {
                    End(WebSocketCloseStatus.InvalidPayloadData,
                        $"unsupported sample rate {(rate < 0 ? "(none)" : rate)}: send PCM16 mono at {PcmInput.MinSampleRate}–{PcmInput.MaxSampleRate} Hz");
                }
                else
                {
                    _input = new PcmInput(rate);
                    await _out.SendEventAsync(new JsonObject { ["type"] = "started", ["sampleRate"] = rate, ["resampledTo"] = PcmInput.SampleRate });
                }

                break;
            case "playback":
                var itemId = (string?)(control["itemId"] as JsonValue);
                var played = control["playedMs"] is JsonValue ms && ms.TryGetValue<int>(out var p) ? p : -1;
                if (itemId is null || played < 0)
                {
                    End(WebSocketCloseStatus.InvalidPayloadData, "malformed playback message: expected itemId and playedMs >= 0");
                    return;
                }

                lock (_gate)
                {
                    if (_playback.TryGetValue(itemId, out var playback))
                    {
                        playback.PlayedMs = Math.Max(playback.PlayedMs, played);
                    }
                }

                break;
            case "commit":
                // Push-to-talk: the user let go; the committed event that follows asks for the response.
                await SendUpstreamAsync(new JsonObject { ["type"] = "input_audio_buffer.commit" }, cancellationToken);
                break;
            default:
                End(WebSocketCloseStatus.InvalidPayloadData, "unknown control message type: expected start, playback or commit");
                break;
        }
    }

    private async Task UpstreamLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var update in _upstream.ReceiveUpdatesAsync(cancellationToken))
            {
                await OnUpdateAsync(update, cancellationToken);
            }

            End(WebSocketCloseStatus.EndpointUnavailable, "the model ended the realtime session");
        }
        catch (Exception exception) when (exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or OperationCanceledException or System.ClientModel.ClientResultException)
        {
            End(WebSocketCloseStatus.EndpointUnavailable, "the model's realtime session failed");
        }
        catch (BudgetExceededException exception)
        {
            await EndForBudgetAsync(exception, "another response");
        }
    }

    /// <summary>Tells the browser the budget is exhausted, then ends the session saying what it could not pay for.</summary>
    private async Task EndForBudgetAsync(BudgetExceededException exception, string what)
    {
        await _out.SendEventAsync(new JsonObject { ["type"] = "error", ["code"] = "budget_exhausted", ["message"] = exception.Message });
        End(WebSocketCloseStatus.PolicyViolation, $"budget exhausted: the {exception.Window.Name} budget cannot pay for {what}");
    }

    private async Task OnUpdateAsync(RealtimeServerUpdate update, CancellationToken cancellationToken)
    {
        switch (update)
        {
            case RealtimeServerUpdateSessionUpdated:
                await _out.SendEventAsync(new JsonObject { ["type"] = "ready", ["sessionId"] = Id, ["sampleRate"] = PcmInput.SampleRate });
                break;
            case RealtimeServerUpdateInputAudioBufferSpeechStarted started:
                await _out.SendEventAsync(new JsonObject { ["type"] = "speech_started", ["itemId"] = started.ItemId });
                await BargeInAsync(cancellationToken);
                break;
            case RealtimeServerUpdateInputAudioBufferSpeechStopped:
                await _out.SendEventAsync(new JsonObject { ["type"] = "speech_stopped" });
                break;
            case RealtimeServerUpdateInputAudioBufferCommitted committed:
                // Throws BudgetExceededException before the response is asked for: the session ends cleanly.
                await _costs.ReserveTranscriptionAsync(committed.ItemId);
                await RequestResponseAsync(cancellationToken);
                break;
            case RealtimeServerUpdateConversationItemInputAudioTranscriptionCompleted transcript:
                await _out.SendEventAsync(new JsonObject { ["type"] = "transcript", ["role"] = "user", ["itemId"] = transcript.ItemId, ["text"] = transcript.Transcript });
                var (inputTokens, audioTokens, outputTokens) = TranscriptionTokens(transcript.Usage);
                await _costs.SettleTranscriptionAsync(transcript.ItemId, inputTokens, audioTokens, outputTokens, _logger, cancellationToken);
                break;
            case RealtimeServerUpdateConversationItemInputAudioTranscriptionFailed failed:
                await _costs.ReleaseTranscriptionsAsync(failed.ItemId);
                break;
            case RealtimeServerUpdateResponseCreated created:
                lock (_gate)
                {
                    _responseId = created.Response.Id;
                }

                break;
            case RealtimeServerUpdateResponseOutputAudioDelta audio:
                await OnAudioOutAsync(audio.ItemId, audio.ResponseId, audio.Delta.ToArray());
                break;
            case RealtimeServerUpdateResponseOutputAudioTranscriptDelta delta:
                await _out.SendEventAsync(new JsonObject { ["type"] = "transcript_delta", ["role"] = "assistant", ["itemId"] = delta.ItemId, ["delta"] = delta.Delta });
                break;
            case RealtimeServerUpdateResponseOutputAudioTranscriptDone done:
                await _out.SendEventAsync(new JsonObject { ["type"] = "transcript", ["role"] = "assistant", ["itemId"] = done.ItemId, ["text"] = done.Transcript });
                break;
            case RealtimeServerUpdateResponseFunctionCallArgumentsDone call:
                await CallToolAsync(call.CallId, call.FunctionName, call.FunctionArguments?.ToString() ?? "{}", cancellationToken);
                break;
            case RealtimeServerUpdateConversationItemTruncated truncated:
                await _out.SendEventAsync(new JsonObject { ["type"] = "truncated", ["itemId"] = truncated.ItemId, ["audioEndMs"] = (int)truncated.AudioEndTime.TotalMilliseconds });
                break;
            case RealtimeServerUpdateResponseDone done:
                await OnResponseDoneAsync(done.Response, cancellationToken);
                break;
            case RealtimeServerUpdateError error:
                VoiceLog.UpstreamError(_logger, Id, error.Error?.Code, error.Error?.Message);
                await _out.SendEventAsync(new JsonObject { ["type"] = "error", ["code"] = error.Error?.Code, ["message"] = error.Error?.Message });
                break;
        }
    }

    private async Task OnAudioOutAsync(string itemId, string responseId, byte[] pcm)
    {
        bool first;
        lock (_gate)
        {
            first = !_playback.TryGetValue(itemId, out var playback);
            if (first)
            {
                _playback[itemId] = playback = new Playback();
            }

            playback!.SentBytes += pcm.Length;
            _speakingItem = itemId;
        }

        if (first)
        {
            await _out.SendEventAsync(new JsonObject { ["type"] = "audio_start", ["itemId"] = itemId, ["responseId"] = responseId });
        }

        await _out.SendAudioAsync(pcm);
    }

    /// <summary>
    /// The user spoke over the assistant: stop the response (if it is still being generated), cut the item to what the
    /// browser reports it played, and have the browser drop what it has queued. An item the browser finished playing,
    /// or that was already cut, is left alone.
    /// </summary>
    private async Task BargeInAsync(CancellationToken cancellationToken)
    {
        string? itemId;
        int playedMs;
        bool active;
        lock (_gate)
        {
            itemId = _speakingItem;
            if (itemId is null || !_playback.TryGetValue(itemId, out var playback) || playback.Truncated || playback.PlayedMs >= playback.SentMs)
            {
                return;
            }

            playback.Truncated = true;
            playedMs = Math.Min(playback.PlayedMs, playback.SentMs);
            active = _responseActive;
            _speakingItem = null;
        }

        VoiceLog.BargeIn(_logger, Id, itemId, playedMs);
        if (active)
        {
            await SendUpstreamAsync(new JsonObject { ["type"] = "response.cancel" }, cancellationToken);
        }

        await SendUpstreamAsync(new JsonObject { ["type"] = "conversation.item.truncate", ["item_id"] = itemId, ["content_index"] = 0, ["audio_end_ms"] = playedMs }, cancellationToken);
        await _out.SendEventAsync(new JsonObject { ["type"] = "flush", ["itemId"] = itemId, ["playedMs"] = playedMs });
    }

    private async Task CallToolAsync(string callId, string name, string arguments, CancellationToken cancellationToken)
    {
        VoiceLog.ToolCalled(_logger, Id, name);
        await _out.SendEventAsync(new JsonObject { ["type"] = "tool_call", ["callId"] = callId, ["name"] = name, ["arguments"] = arguments });
        var result = await _tools.InvokeAsync(name, arguments, new VoiceToolContext(Id), cancellationToken);
        await _out.SendEventAsync(new JsonObject { ["type"] = "tool_result", ["callId"] = callId, ["name"] = name, ["output"] = result.Output });
        if (result.BrowserEvent is { } browserEvent)
        {
            await _out.SendEventAsync(browserEvent);
        }

        _costs.AddText(result.Output);
        await SendUpstreamAsync(new JsonObject
        {
            ["type"] = "conversation.item.create",
            ["item"] = new JsonObject { ["type"] = "function_call_output", ["call_id"] = callId, ["output"] = result.Output },
        }, cancellationToken);
        lock (_gate)
        {
            _toolOutputsSent = true;
        }
    }

    /// <summary>Reserves the next response's worst case and asks for it; while one is in progress, asks after it.</summary>
    private async Task RequestResponseAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_closeReason is not null)
            {
                return;
            }

            if (_responseActive)
            {
                _responseWanted = true;
                return;
            }

            _responseActive = true;
            _responseWanted = false;
            _responseId = null;
            _responseDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        VoiceCosts.PendingResponse pending;
        try
        {
            // Throws BudgetExceededException before anything is asked for: the session ends cleanly.
            pending = await _costs.ReserveAsync();
        }
        catch
        {
            lock (_gate)
            {
                _responseActive = false;
                _responseDone.TrySetResult();
            }

            throw;
        }

        lock (_gate)
        {
            _pending = pending;
        }

        await SendUpstreamAsync(new JsonObject { ["type"] = "response.create" }, cancellationToken);
    }

    private async Task OnResponseDoneAsync(RealtimeResponse response, CancellationToken cancellationToken)
    {
        VoiceCosts.PendingResponse? pending;
        bool again;
        lock (_gate)
        {
            pending = _pending;
            _pending = null;
            _responseActive = false;
            again = _responseWanted || (_toolOutputsSent && response.Status != RealtimeResponseStatus.Cancelled);
            _responseWanted = false;
            _toolOutputsSent = false;
        }

        var usage = Read(response.Usage);
        // A response that failed or was cancelled without a usage report produced nothing billable: released.
        var began = usage is not null || (response.Status != RealtimeResponseStatus.Failed && response.Status != RealtimeResponseStatus.Cancelled);
        var settled = await _costs.SettleAsync(pending, response.Id, began, usage, _logger, cancellationToken);
        if (settled is { } cost)
        {
            await _out.SendEventAsync(new JsonObject
            {
                ["type"] = "usage",
                ["responseId"] = response.Id,
                ["status"] = response.Status?.ToString(),
                ["inputTokens"] = cost.Cost.InputTokens,
                ["cachedInputTokens"] = cost.Cost.CachedInputTokens,
                ["audioInputTokens"] = cost.Cost.AudioInputTokens,
                ["outputTokens"] = cost.Cost.OutputTokens,
                ["audioOutputTokens"] = cost.Cost.AudioOutputTokens,
                ["usd"] = cost.Cost.Usd,
                ["estimated"] = cost.Estimated,
                ["sessionUsd"] = _costs.SessionUsd,
            });
        }

        lock (_gate)
        {
            _responseDone?.TrySetResult();
        }

        if (again)
        {
            await RequestResponseAsync(cancellationToken);
        }
    }

    /// <summary>
    /// On the way out: a response still in progress is cancelled upstream and its usage awaited (the upstream loop
    /// still runs and settles it); without a report in time it is charged its worst case if the model began it,
    /// released if not.
    /// </summary>
    private async Task FinishResponseAsync()
    {
        Task? done;
        lock (_gate)
        {
            done = _responseActive ? _responseDone?.Task : null;
        }

        if (done is not null)
        {
            using var timeout = new CancellationTokenSource(_options.SettleTimeoutMs);
            try
            {
                if (_upstream.WebSocket.State == WebSocketState.Open)
                {
                    await SendUpstreamAsync(new JsonObject { ["type"] = "response.cancel" }, timeout.Token);
                }

                await done.WaitAsync(timeout.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or IOException or System.ClientModel.ClientResultException)
            {
                // No report in time: settled below from what is known.
            }
        }

        VoiceCosts.PendingResponse? pending;
        string? responseId;
        lock (_gate)
        {
            pending = _pending;
            _pending = null;
            responseId = _responseId;
        }

        if (pending is not null)
        {
            await _costs.SettleAsync(pending, responseId ?? pending.ReservationId, began: responseId is not null, null, _logger, CancellationToken.None);
        }

        // A transcription still running when the session ends will not report here: its reservation goes back.
        await _costs.ReleaseTranscriptionsAsync();
    }

    private Task SendUpstreamAsync(JsonObject command, CancellationToken cancellationToken) =>
        _upstream.SendCommandAsync(BinaryData.FromString(command.ToJsonString(VoiceJson.Options)),
            new System.ClientModel.Primitives.RequestOptions { CancellationToken = cancellationToken });

    private static (long? Input, long? Audio, long? Output) TranscriptionTokens(RealtimeTranscriptionUsage? usage) =>
        usage is RealtimeTranscriptionTokenUsage tokens
            ? (tokens.InputTokenCount, tokens.InputTokenDetails?.AudioTokenCount, tokens.OutputTokenCount)
            : (null, null, null);

    private static RealtimeUsage? Read(RealtimeResponseUsage? usage)
    {
        if (usage is null)
        {
            return null;
        }

        var input = usage.InputTokenDetails;
        var output = usage.OutputTokenDetails;
        return new RealtimeUsage(
            usage.InputTokenCount ?? 0,
            input?.TextTokenCount ?? 0,
            input?.AudioTokenCount ?? 0,
            input?.CachedTokenCount ?? 0,
            input?.CachedTokenDetails?.AudioTokenCount ?? 0,
            usage.OutputTokenCount ?? 0,
            output?.AudioTokenCount ?? 0);
    }

    public void Dispose()
    {
        _upstream.Dispose();
    }

    private sealed class Playback
    {
        public long SentBytes { get; set; }

        public int SentMs => (int)(SentBytes / 48);

        public int PlayedMs { get; set; }

        public bool Truncated { get; set; }
    }
}
