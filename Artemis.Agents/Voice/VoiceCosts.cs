using System.Text;
using Artemis.Agents.Costs;

namespace Artemis.Agents.Voice;

/// <summary>
/// The cost path of one voice session, the realtime counterpart of <see cref="CostFilter"/>. The bridge turns the
/// model's automatic responses off (<c>create_response: false</c>) and asks for each response itself, so the worst
/// case of every response is reserved in the day and month budgets <em>before</em> the response is asked for:
/// <list type="bullet">
/// <item>input: a bound on the conversation so far: the last response's reported input + output (what the model has
/// seen and said), plus what was added since (audio at <see cref="VoiceOptions.AudioTokensPerSecondBound"/>, tool
/// outputs at one token per UTF-8 byte), or, before the first response, the instructions and tools at a token per
/// byte; all at the dearer of the text and audio input prices;</item>
/// <item>output: the session's <c>max_output_tokens</c> at the dearer of the output prices.</item>
/// </list>
/// Each <c>response.done</c> is priced exactly from its usage by <see cref="RealtimeUsage"/> / <see cref="CallCost"/>
/// and settled with the response id as the call id (one ledger row per response); a response that ends without
/// usage before it began is released; one that began and never reported usage is charged its worst case.
/// </summary>
public sealed class VoiceCosts(
    string sessionId,
    string model,
    ModelPrice price,
    VoiceOptions options,
    BudgetGuard budgets,
    BudgetWindows windows,
    CostRecorder recorder,
    PriceCatalog catalog,
    TimeProvider time)
{
    /// <summary>The speech recognition's price when it is on (the configuration check made sure it has one).</summary>
    private readonly ModelPrice? _transcriptionPrice =
        string.IsNullOrWhiteSpace(options.TranscriptionModel) ? null : catalog.GetPrice(options.TranscriptionModel);

    private static readonly CostAttribution TranscriptionAttribution = new(null, "voice", "transcription");

    /// <summary>Each committed utterance's transcription reservations, until it reports (or fails).</summary>
    private readonly Dictionary<string, List<PendingResponse>> _transcriptions = new(StringComparer.Ordinal);

    /// <summary>The reservations covering the audio sent since the last commit, and how much audio they cover.</summary>
    private List<PendingResponse> _uncommitted = [];
    private long _uncommittedAudioBytes;
    private long _coveredAudioBytes;
    private int _audioSteps;

    /// <summary>Audio covered by one transcription reservation beyond what a frame needs: 5 s of PCM16 at 24 kHz.</summary>
    private const long AudioStepBytes = 5 * 48_000;

    /// <summary>A reservation outlives a response by far; one left by a killed process is swept after this.</summary>
    private static readonly TimeSpan ReservationLifetime = TimeSpan.FromMinutes(10);

    private static readonly CostAttribution Attribution = new(null, "voice", "voice");

    /// <summary>Tokens the model adds around the instructions and tools (role markers and the like).</summary>
    private const long Overhead = 64;

    private readonly Lock _gate = new();
    private long _context;
    private long _added;

    public decimal SessionUsd { get; private set; }

    /// <summary>Sets the first bound: the instructions and the tool definitions, a token per UTF-8 byte.</summary>
    public void Start(string instructions, string toolsJson)
    {
        lock (_gate)
        {
            _context = Overhead + Encoding.UTF8.GetByteCount(instructions) + Encoding.UTF8.GetByteCount(toolsJson);
        }
    }

    /// <summary>
    /// Counts audio about to be sent to the model: in the bound of the next response, and — when input transcription
    /// is on — in a transcription reservation made <em>before</em> the audio is sent, since the model transcribes it
    /// as soon as it commits the buffer (server VAD decides when). Reservations are taken a step of
    /// <see cref="AudioStepBytes"/> at a time, the first of an utterance with its text output. Throws
    /// <see cref="BudgetExceededException"/> when the budgets cannot pay for transcribing this audio: it is not sent.
    /// Called from the one loop that reads the browser's frames.
    /// </summary>
    public async Task AddAudioAsync(long bytes24k)
    {
        if (_transcriptionPrice is not null)
        {
            long missing;
            bool first;
            lock (_gate)
            {
                missing = _uncommittedAudioBytes + bytes24k - _coveredAudioBytes;
                first = _uncommitted.Count == 0;
            }

            if (missing > 0)
            {
                var step = Math.Max(missing, AudioStepBytes);
                var tokens = AudioTokens(step);
                var pending = await ReservePendingAsync($"voice-transcription-{sessionId}-audio-{Interlocked.Increment(ref _audioSteps)}",
                    TranscriptionCost(tokens, tokens, first ? options.MaxOutputTokens : 0));
                lock (_gate)
                {
                    _uncommitted.Add(pending);
                    _coveredAudioBytes += step;
                }
            }
        }

        lock (_gate)
        {
            _added += AudioTokens(bytes24k);
            _uncommittedAudioBytes += bytes24k;
        }
    }

    /// <summary>PCM16 at 24 kHz is 48 bytes a millisecond; audio tokens are bounded per second.</summary>
    private long AudioTokens(long bytes24k) => (bytes24k * options.AudioTokensPerSecondBound + 48_000 - 1) / 48_000;

    public void AddText(string text)
    {
        lock (_gate)
        {
            _added += Encoding.UTF8.GetByteCount(text) + 16;
        }
    }

    /// <summary>The worst case of the next response, priced by the catalog.</summary>
    public CallCost NextWorstCase()
    {
        lock (_gate)
        {
            return CallCost.WorstCase(model, price, _context + _added, options.MaxOutputTokens);
        }
    }

    /// <summary>True when the budgets could pay for one response now (nothing stays reserved).</summary>
    public async Task<BudgetExceededException?> ProbeAsync()
    {
        var id = "voice-probe-" + Guid.NewGuid().ToString("N");
        var worstCase = NextWorstCase();
        try
        {
            await budgets.ReserveAsync(id, windows.For(time.GetUtcNow(), null), worstCase.Usd, ReservationLifetime);
        }
        catch (BudgetExceededException exception)
        {
            return exception;
        }

        await budgets.ReleaseAsync(id, windows.For(time.GetUtcNow(), null));
        return null;
    }

    /// <summary>Reserves the next response's worst case, or throws <see cref="BudgetExceededException"/>.</summary>
    public async Task<PendingResponse> ReserveAsync()
    {
        CallCost worstCase;
        lock (_gate)
        {
            worstCase = CallCost.WorstCase(model, price, _context + _added, options.MaxOutputTokens);
            // What this response will see is in its bound now; what comes after is the next one's.
            _context += _added;
            _added = 0;
        }

        return await ReservePendingAsync("voice-" + sessionId + "-" + Guid.NewGuid().ToString("N"), worstCase);
    }

    /// <summary>Reserves <paramref name="worstCase"/> in the day and month budgets under <paramref name="reservationId"/>, or throws <see cref="BudgetExceededException"/>.</summary>
    private async Task<PendingResponse> ReservePendingAsync(string reservationId, CallCost worstCase)
    {
        var now = time.GetUtcNow();
        var pending = new PendingResponse(reservationId, now, worstCase, windows.For(now, null));
        await budgets.ReserveAsync(pending.ReservationId, pending.Windows, worstCase.Usd, ReservationLifetime);
        return pending;
    }

    /// <summary>Settles a response from its usage (null: none reported). Returns the cost counted (null: released).</summary>
    public async Task<(CallCost Cost, bool Estimated)?> SettleAsync(PendingResponse? pending, string responseId, bool began, RealtimeUsage? usage,
        ILogger logger, CancellationToken cancellationToken)
    {
        CallCost cost;
        var estimated = false;
        if (usage is null && !began)
        {
            if (pending is not null)
            {
                await budgets.ReleaseAsync(pending.ReservationId, pending.Windows);
            }

            lock (_gate)
            {
                _context += options.MaxOutputTokens;
            }

            return null;
        }

        try
        {
            cost = usage is null ? throw new InvalidUsageException("the model reported no usage") : usage.Price(model, price);
            VoiceLog.ResponsePriced(logger, sessionId, responseId, cost.Usd, cost.InputTokens, cost.CachedInputTokens, cost.AudioInputTokens, cost.OutputTokens, cost.AudioOutputTokens);
        }
        catch (InvalidUsageException exception)
        {
            cost = pending?.WorstCase ?? NextWorstCase();
            estimated = true;
            VoiceLog.ChargedWorstCase(logger, sessionId, responseId, exception.Message, cost.Usd);
        }

        lock (_gate)
        {
            _context = usage is null ? _context + options.MaxOutputTokens : usage.InputTokens + usage.OutputTokens;
            SessionUsd += cost.Usd;
        }

        var occurred = pending?.StartedAt ?? time.GetUtcNow();
        var responseWindows = pending?.Windows ?? windows.For(occurred, null);
        // Counted once per response id, its ledger row queued in the same Redis step; then the reservation made
        // under the bridge's own id (the response id is not known before the response exists) is released. Between
        // the two steps the response is counted twice over, never less than once.
        await recorder.RecordAsync(responseId, responseWindows, occurred, cost, Attribution, estimated, cancellationToken);
        if (pending is not null)
        {
            await budgets.ReleaseAsync(pending.ReservationId, pending.Windows);
        }

        return (cost, estimated);
    }

    /// <summary>
    /// When the model commits the user's audio it also starts transcribing it (billed apart, by the transcription
    /// model): the reservations made while that audio was sent (<see cref="AddAudioAsync"/>) become the utterance's.
    /// A commit with nothing reserved (audio sent before transcription was priced, say) reserves its worst case now,
    /// from the audio committed at <see cref="VoiceOptions.AudioTokensPerSecondBound"/> and
    /// <see cref="VoiceOptions.MaxOutputTokens"/> of text; it throws <see cref="BudgetExceededException"/> when the
    /// budgets cannot pay for it, and the session ends.
    /// </summary>
    public async Task ReserveTranscriptionAsync(string itemId)
    {
        if (_transcriptionPrice is null)
        {
            return;
        }

        List<PendingResponse> reserved;
        long bytes;
        lock (_gate)
        {
            (reserved, _uncommitted) = (_uncommitted, []);
            bytes = _uncommittedAudioBytes;
            _uncommittedAudioBytes = 0;
            _coveredAudioBytes = 0;
            if (reserved.Count > 0)
            {
                _transcriptions[itemId] = reserved;
                return;
            }
        }

        var audioTokens = AudioTokens(bytes);
        var pending = await ReservePendingAsync($"voice-transcription-{sessionId}-{itemId}", TranscriptionCost(audioTokens, audioTokens, options.MaxOutputTokens));
        lock (_gate)
        {
            _transcriptions[itemId] = [pending];
        }
    }

    /// <summary>
    /// Settles the transcription of <paramref name="itemId"/> from the usage it reported (input, of which audio, and
    /// output tokens), counted once per item; a missing or impossible usage is charged its reserved worst case.
    /// </summary>
    public async Task<CallCost?> SettleTranscriptionAsync(string itemId, long? inputTokens, long? audioTokens, long? outputTokens,
        ILogger logger, CancellationToken cancellationToken)
    {
        if (_transcriptionPrice is null)
        {
            return null;
        }

        List<PendingResponse>? reserved;
        lock (_gate)
        {
            _transcriptions.Remove(itemId, out reserved);
        }

        var pending = reserved?.FirstOrDefault();
        var worstCase = reserved is { Count: > 0 } ? reserved.Select(one => one.WorstCase).Aggregate(Sum) : null;

        CallCost cost;
        var estimated = false;
        try
        {
            cost = inputTokens is { } input && outputTokens is { } output && audioTokens is { } audio && audio <= input
                ? TranscriptionCost(input, audio, output)
                : throw new InvalidUsageException("the transcription reported no token usage");
        }
        catch (InvalidUsageException exception)
        {
            cost = worstCase ?? TranscriptionCost(0, 0, options.MaxOutputTokens);
            estimated = true;
            VoiceLog.ChargedWorstCase(logger, sessionId, "transcription of " + itemId, exception.Message, cost.Usd);
        }

        lock (_gate)
        {
            SessionUsd += cost.Usd;
        }

        var occurred = pending?.StartedAt ?? time.GetUtcNow();
        await recorder.RecordAsync($"voice-transcription-{sessionId}-{itemId}", pending?.Windows ?? windows.For(occurred, null), occurred, cost,
            TranscriptionAttribution, estimated, cancellationToken);
        foreach (var one in reserved ?? [])
        {
            await budgets.ReleaseAsync(one.ReservationId, one.Windows);
        }

        return cost;
    }

    /// <summary>The worst cases of an utterance's reservations as one (their sum).</summary>
    private static CallCost Sum(CallCost a, CallCost b) => a with
    {
        InputTokens = a.InputTokens + b.InputTokens,
        AudioInputTokens = a.AudioInputTokens + b.AudioInputTokens,
        OutputTokens = a.OutputTokens + b.OutputTokens,
        Usd = a.Usd + b.Usd,
    };

    /// <summary>
    /// Gives back the reservations of transcriptions that will not report (failed), or — with no item, when the session
    /// ends — every one still held, those of audio never committed included.
    /// </summary>
    public async Task ReleaseTranscriptionsAsync(string? itemId = null)
    {
        List<PendingResponse> released;
        lock (_gate)
        {
            if (itemId is null)
            {
                released = [.. _transcriptions.Values.SelectMany(list => list), .. _uncommitted];
                _transcriptions.Clear();
                (_uncommitted, _uncommittedAudioBytes, _coveredAudioBytes) = ([], 0, 0);
            }
            else
            {
                released = _transcriptions.Remove(itemId, out var list) ? list : [];
            }
        }

        foreach (var pending in released)
        {
            await budgets.ReleaseAsync(pending.ReservationId, pending.Windows);
        }
    }

    private CallCost TranscriptionCost(long inputTokens, long audioTokens, long outputTokens)
    {
        var usage = new Microsoft.Extensions.AI.UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = outputTokens, TotalTokenCount = inputTokens + outputTokens };
#pragma warning disable MEAI001 // audio counts are experimental in Microsoft.Extensions.AI
        usage.InputAudioTokenCount = audioTokens;
#pragma warning restore MEAI001
        return CallCost.Price(options.TranscriptionModel, _transcriptionPrice!, usage);
    }

    public sealed record PendingResponse(string ReservationId, DateTimeOffset StartedAt, CallCost WorstCase, IReadOnlyList<BudgetWindow> Windows);
}
