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

    public void Record(CallCost cost, CostAttribution attribution, bool estimated)
    {
        var model = new KeyValuePair<string, object?>("model", cost.Model);
        var stage = new KeyValuePair<string, object?>("stage", attribution.Stage ?? "");
        _tokens.Add(cost.InputTokens - cost.CachedInputTokens - cost.AudioInputTokens, model, stage, new("kind", "input"));
        _tokens.Add(cost.CachedInputTokens, model, stage, new("kind", "cached_input"));
        _tokens.Add(cost.AudioInputTokens, model, stage, new("kind", "audio_input"));
        _tokens.Add(cost.OutputTokens - cost.AudioOutputTokens, model, stage, new("kind", "output"));
        _tokens.Add(cost.AudioOutputTokens, model, stage, new("kind", "audio_output"));
        _usd.Add((double)cost.Usd, model, stage);
        _calls.Add(1, model, stage, new("estimated", estimated));
    }
}
