using System.Diagnostics.Metrics;
using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.Agents.Tests.Models;

/// <summary>
/// Every request that reaches the model is priced exactly once, from the usage the model reported, through the real
/// OpenAI connector and the real simulator; the simulator's request log is the count to match.
/// </summary>
public sealed class CostFilterTests(ModelPipelineFixture pipeline) : IClassFixture<ModelPipelineFixture>
{
    private static string NewCard() => "card-" + Guid.NewGuid().ToString("N")[..8];

    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M tokens.
    private const string UsageScript = """
        { "models": ["gpt-4o-mini"],
          "steps": [ { "match": { "lastRole": "user" },
                       "reply": { "content": "Hello from the simulator.", "usage": { "promptTokens": 1200, "cachedTokens": 200, "completionTokens": 300 } } } ] }
        """;

    private const decimal UsageScriptUsd = (1000 * 0.15m + 200 * 0.075m + 300 * 0.60m) / 1_000_000m;

    [Fact]
    public async Task Plain_call_is_priced_once_from_the_reported_usage_including_cached_tokens()
    {
        await pipeline.ResetAsync(UsageScript);
        var card = NewCard();

        var response = await pipeline.Chat.GetResponseAsync("Say hello", ModelPipelineFixture.For(card));

        Assert.Equal("Hello from the simulator.", response.Text);
        var row = Assert.Single(await pipeline.LedgerAsync(card));
        Assert.Equal((1200L, 200L, 300L), (row.InputTokens, row.CachedInputTokens, row.OutputTokens));
        Assert.Equal(UsageScriptUsd, row.Usd);
        Assert.False(row.Estimated);
        Assert.Single(await pipeline.SimulatorRequestsAsync());
    }

    [Fact]
    public async Task The_instruments_record_each_counted_call_once_and_a_replayed_settle_not_again()
    {
        await pipeline.ResetAsync(UsageScript);
        var card = NewCard();
        var stage = "metrics-" + Guid.NewGuid().ToString("N")[..8]; // only this test's measurements carry it
        var measured = new List<(string Instrument, double Value, string? Kind, bool? Estimated)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CostMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Measured(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var all = tags.ToArray().ToDictionary(tag => tag.Key, tag => tag.Value);
            if (Equals(all.GetValueOrDefault("stage"), stage))
            {
                lock (measured)
                {
                    measured.Add((instrument.Name, value, all.GetValueOrDefault("kind") as string, all.GetValueOrDefault("estimated") as bool?));
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Measured(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Measured(instrument, value, tags));
        listener.Start();

        // A chat call through the filter (counted by a budget lease sync) ...
        await pipeline.Chat.GetResponseAsync("Say hello", new CostAttribution(card, stage, "developer-1").ApplyTo(new ChatOptions()));
        Assert.Single(await pipeline.LedgerAsync(card)); // flushed: counted
        // ... and a realtime response counted on its own, twice (a replayed settle): recorded once.
        var recorder = pipeline.Services.GetRequiredService<CostRecorder>();
        var windows = pipeline.Services.GetRequiredService<BudgetWindows>().For(card);
        var voice = new CallCost("gpt-4o-mini", 1200, 200, 300, 0, 0, UsageScriptUsd);
        var callId = Guid.NewGuid().ToString("N");
        Assert.True((await recorder.RecordAsync(callId, windows, DateTimeOffset.UtcNow, voice, new CostAttribution(card, stage, "voice"), false, CancellationToken.None)).Counted);
        Assert.False((await recorder.RecordAsync(callId, windows, DateTimeOffset.UtcNow, voice, new CostAttribution(card, stage, "voice"), false, CancellationToken.None)).Counted);

        listener.Dispose();
        double Sum(string instrument, string? kind = null) =>
            measured.Where(m => m.Instrument == instrument && (kind is null || m.Kind == kind)).Sum(m => m.Value);
        Assert.Equal(2, Sum("artemis.model.calls"));
        Assert.All(measured.Where(m => m.Instrument == "artemis.model.calls"), m => Assert.False(m.Estimated));
        Assert.Equal((2000d, 400d, 600d, 0d, 0d), (Sum("artemis.model.tokens", "input"), Sum("artemis.model.tokens", "cached_input"),
            Sum("artemis.model.tokens", "output"), Sum("artemis.model.tokens", "audio_input"), Sum("artemis.model.tokens", "audio_output")));
        Assert.Equal(2 * (double)UsageScriptUsd, Sum("artemis.model.cost"), precision: 12);
    }

    [Fact]
    public async Task Streaming_call_is_priced_once_from_the_final_usage()
    {
        await pipeline.ResetAsync(UsageScript);
        var card = NewCard();

        var text = "";
        await foreach (var update in pipeline.Chat.GetStreamingResponseAsync("Say hello", ModelPipelineFixture.For(card)))
        {
            text += update.Text;
        }

        Assert.Equal("Hello from the simulator.", text);
        var row = Assert.Single(await pipeline.LedgerAsync(card));
        Assert.Equal(UsageScriptUsd, row.Usd);
        Assert.False(row.Estimated);
        var request = Assert.Single(await pipeline.SimulatorRequestsAsync());
        Assert.True(request!["stream"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Each_round_trip_of_automatic_function_calling_is_priced()
    {
        await pipeline.ResetAsync("""
            { "models": ["gpt-4o-mini"],
              "steps": [
                { "match": { "lastRole": "user" }, "reply": { "toolCalls": [ { "id": "call_1", "name": "lookup", "arguments": { "what": "answer" } } ],
                                                             "usage": { "promptTokens": 100, "completionTokens": 20 } } },
                { "match": { "lastRole": "tool", "lastContentContains": "42" }, "reply": { "content": "The answer is 42.", "usage": { "promptTokens": 150, "completionTokens": 10 } } } ] }
            """);
        var card = NewCard();
        var options = ModelPipelineFixture.For(card, new ChatOptions { Tools = [AIFunctionFactory.Create((string what) => "42", "lookup")] });

        var response = await pipeline.Chat.GetResponseAsync("What is the answer?", options);

        Assert.Equal("The answer is 42.", response.Text);
        var rows = await pipeline.LedgerAsync(card);
        Assert.Equal((await pipeline.SimulatorRequestsAsync()).Count, rows.Count);
        Assert.Equal(2, rows.Count);
        Assert.Equal((100 * 0.15m + 20 * 0.60m + 150 * 0.15m + 10 * 0.60m) / 1_000_000m, rows.Sum(row => row.Usd));
    }

    [Fact]
    public async Task A_retried_429_is_priced_once()
    {
        await pipeline.ResetAsync("""
            { "models": ["gpt-4o-mini"],
              "steps": [ { "match": { "lastRole": "user" }, "fault": { "kind": "status", "status": 429, "retryAfterSeconds": 1, "times": 1 },
                           "reply": { "content": "After the wait.", "usage": { "promptTokens": 10, "completionTokens": 5 } } } ] }
            """);
        var card = NewCard();

        var response = await pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(card));

        Assert.Equal("After the wait.", response.Text);
        Assert.Equal(2, (await pipeline.SimulatorRequestsAsync()).Count);
        Assert.Single(await pipeline.LedgerAsync(card));
    }

    [Fact]
    public async Task Malformed_usage_is_charged_the_worst_case_never_left_unpriced()
    {
        await pipeline.ResetAsync("""
            { "models": ["gpt-4o-mini"],
              "steps": [ { "match": { "lastRole": "user" }, "fault": { "kind": "malformedUsage", "times": 5 }, "reply": { "content": "Odd usage." } } ] }
            """);
        var card = NewCard();

        await pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(card));

        var row = Assert.Single(await pipeline.LedgerAsync(card));
        Assert.True(row.Estimated);
        Assert.Equal(1000, row.OutputTokens); // Artemis:Model:MaxOutputTokens in the fixture
        Assert.True(row.Usd >= 1000 * 0.60m / 1_000_000m);
    }

    [Fact]
    public async Task An_unpriced_model_is_refused_before_anything_is_sent()
    {
        await pipeline.ResetAsync(UsageScript);

        await Assert.ThrowsAsync<UnknownModelException>(() =>
            pipeline.Chat.GetResponseAsync("Hello", ModelPipelineFixture.For(NewCard(), new ChatOptions { ModelId = "gpt-9-ultra" })));

        Assert.Empty(await pipeline.SimulatorRequestsAsync());
    }

    [Fact]
    public async Task Recording_a_call_twice_counts_it_once()
    {
        var ledger = pipeline.Services.GetRequiredService<CostLedger>();
        var card = NewCard();
        var cost = new CallCost("gpt-4o", 10, 0, 10, 0, 0, 0.000125m);
        var attribution = new CostAttribution(card, "development", "developer-1");

        var entry = LedgerEntry.For("call-" + card, DateTimeOffset.UtcNow, cost, attribution, estimated: false);
        Assert.True(await ledger.RecordAsync(entry, CancellationToken.None));
        Assert.False(await ledger.RecordAsync(entry, CancellationToken.None));

        Assert.Single(await pipeline.LedgerAsync(card));
    }
}
