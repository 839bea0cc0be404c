using System.Diagnostics.Metrics;

namespace Artemis.Agents.Costs;

/// <summary>Tokens, dollars and calls of every priced model call, as Meter instruments (exported to the dashboard).</summary>
public sealed class CostMetrics
{
    public const string MeterName = "Artemis.Costs";

    private readonly Counter<long> _tokens;
    private readonly Counter<double> _usd;
    private readonly Counter<long> _calls;

    public CostMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _tokens = meter.CreateCounter<long>("artemis.model.tokens", "{token}", "Tokens of priced model calls, by model and kind");
        _usd = meter.CreateCounter<double>("artemis.model.cost", "USD", "Dollars of priced model calls, by model");
        _calls = meter.CreateCounter<long>("artemis.model.calls", "{call}", "Priced model calls, by model and whether usage was estimated");
    }

    /// <summary>
    /// What every counting step does with its answer from Redis: a call counted now is recorded in the instruments; one
    /// counted before (a replay of its settle) is logged and not recorded again.
    /// </summary>
    public void Counted(LedgerEntry entry, bool counted, ILogger logger)
    {
        if (!counted)
        {
            CostsLog.AlreadyRecorded(logger, entry.CallId);
            return;
        }

        var model = new KeyValuePair<string, object?>("model", entry.Model);
        var stage = new KeyValuePair<string, object?>("stage", entry.Stage ?? "");
        _tokens.Add(entry.InputTokens - entry.CachedInputTokens - entry.AudioInputTokens, model, stage, new("kind", "input"));
        _tokens.Add(entry.CachedInputTokens, model, stage, new("kind", "cached_input"));
        _tokens.Add(entry.AudioInputTokens, model, stage, new("kind", "audio_input"));
        _tokens.Add(entry.OutputTokens - entry.AudioOutputTokens, model, stage, new("kind", "output"));
        _tokens.Add(entry.AudioOutputTokens, model, stage, new("kind", "audio_output"));
        _usd.Add((double)entry.CostUsd, model, stage);
        _calls.Add(1, model, stage, new("estimated", entry.Estimated));
    }
}
