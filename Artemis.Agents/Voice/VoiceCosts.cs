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

    private readonly Dictionary<string, PendingResponse> _transcriptions = new(StringComparer.Ordinal);
    private long _uncommittedAudioBytes;

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

    public void AddAudio(long bytes24k)
    {
        // PCM16 at 24 kHz: 48 bytes a millisecond.
        var tokens = (bytes24k * options.AudioTokensPerSecondBound + 48_000 - 1) / 48_000;
        lock (_gate)
        {
            _added += tokens;
            _uncommittedAudioBytes += bytes24k;
        }
    }

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

        var now = time.GetUtcNow();
        var pending = new PendingResponse("voice-" + sessionId + "-" + Guid.NewGuid().ToString("N"), now, worstCase, windows.For(now, null));
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
    /// model): the worst case of that is reserved here, from the audio committed (at
    /// <see cref="VoiceOptions.AudioTokensPerSecondBound"/>) and <see cref="VoiceOptions.MaxOutputTokens"/> of text.
    /// Throws <see cref="BudgetExceededException"/> when the budgets cannot pay for it: the session ends.
    /// </summary>
    public async Task ReserveTranscriptionAsync(string itemId)
    {
        if (_transcriptionPrice is null)
        {
            return;
        }

        long bytes;
        lock (_gate)
        {
            bytes = _uncommittedAudioBytes;
            _uncommittedAudioBytes = 0;
        }

        var audioTokens = (bytes * options.AudioTokensPerSecondBound + 48_000 - 1) / 48_000;
        var worstCase = TranscriptionCost(audioTokens, audioTokens, options.MaxOutputTokens);
        var now = time.GetUtcNow();
        var pending = new PendingResponse($"voice-transcription-{sessionId}-{itemId}", now, worstCase, windows.For(now, null));
        await budgets.ReserveAsync(pending.ReservationId, pending.Windows, worstCase.Usd, ReservationLifetime);
        lock (_gate)
        {
            _transcriptions[itemId] = pending;
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

        PendingResponse? pending;
        lock (_gate)
        {
            _transcriptions.Remove(itemId, out pending);
        }

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
            cost = pending?.WorstCase ?? TranscriptionCost(0, 0, options.MaxOutputTokens);
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
        if (pending is not null)
        {
            await budgets.ReleaseAsync(pending.ReservationId, pending.Windows);
        }

        return cost;
    }

    /// <summary>Gives back the reservations of transcriptions that will not report (failed, or the session ended).</summary>
    public async Task ReleaseTranscriptionsAsync(string? itemId = null)
    {
        List<PendingResponse> released;
        lock (_gate)
        {
            released = itemId is null
                ? [.. _transcriptions.Values]
                : _transcriptions.Remove(itemId, out var one) ? [one] : [];
            if (itemId is null)
            {
                _transcriptions.Clear();
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
