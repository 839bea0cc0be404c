using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;

namespace Artemis.Agents.Tests.Costs;

public sealed class CallCostTests
{
    private static readonly ModelPrice Realtime = new(4m, 0.4m, 16m, 32m, 64m);

    [Fact]
    public void Text_audio_and_cached_tokens_are_each_priced_at_their_rate()
    {
#pragma warning disable MEAI001
        var usage = new UsageDetails { InputTokenCount = 1000, CachedInputTokenCount = 100, InputAudioTokenCount = 400, OutputTokenCount = 500, OutputAudioTokenCount = 300 };
#pragma warning restore MEAI001

        var cost = CallCost.Price("gpt-realtime", Realtime, usage);

        // 500 text in × 4 + 100 cached × 0.4 + 400 audio in × 32 + 200 text out × 16 + 300 audio out × 64, per 1M.
        Assert.Equal((500 * 4m + 100 * 0.4m + 400 * 32m + 200 * 16m + 300 * 64m) / 1_000_000m, cost.Usd);
    }

    [Theory]
    [InlineData(-1L, 0L, 0L, "negative input")]
    [InlineData(10L, 0L, -5L, "negative output")]
    [InlineData(10L, 20L, 5L, "cached")]
    public void Impossible_usage_is_refused(long input, long cached, long output, string fragment)
    {
        var usage = new UsageDetails { InputTokenCount = input, CachedInputTokenCount = cached, OutputTokenCount = output };
        var exception = Assert.Throws<InvalidUsageException>(() => CallCost.Price("gpt-4o", new ModelPrice(2.5m, 1.25m, 10m), usage));
        Assert.Contains(fragment, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Audio_tokens_on_a_model_without_audio_prices_are_refused()
    {
#pragma warning disable MEAI001
        var usage = new UsageDetails { InputTokenCount = 10, InputAudioTokenCount = 5, OutputTokenCount = 1 };
#pragma warning restore MEAI001
        Assert.Throws<InvalidUsageException>(() => CallCost.Price("gpt-4o", new ModelPrice(2.5m, 1.25m, 10m), usage));
    }

    [Fact]
    public void Worst_case_prices_every_prompt_token_at_full_input_and_every_allowed_output_token()
    {
        var cost = CallCost.WorstCase("gpt-4o", new ModelPrice(2.5m, 1.25m, 10m), 1000, 500);
        Assert.Equal((1000 * 2.5m + 500 * 10m) / 1_000_000m, cost.Usd);
    }
}
