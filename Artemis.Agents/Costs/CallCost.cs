using Microsoft.Extensions.AI;

namespace Artemis.Agents.Costs;

/// <summary>The tokens of one model call and what they cost, priced exactly (decimal, USD).</summary>
public sealed record CallCost(
    string Model,
    long InputTokens,
    long CachedInputTokens,
    long OutputTokens,
    long AudioInputTokens,
    long AudioOutputTokens,
    decimal Usd)
{
    private const decimal PerMillion = 1_000_000m;

    /// <summary>
    /// Prices a usage report. Input tokens include the cached and audio ones (as OpenAI reports them); each part is
    /// priced at its own rate. A report that cannot be right (negative, or more cached than input) is refused.
    /// </summary>
    public static CallCost Price(string model, ModelPrice price, UsageDetails usage)
    {
        var input = Count(usage.InputTokenCount, "input");
        var cached = Count(usage.CachedInputTokenCount, "cached input");
        var output = Count(usage.OutputTokenCount, "output");
        // Audio counts are marked experimental in Microsoft.Extensions.AI; realtime usage is priced by them.
#pragma warning disable MEAI001
        var audioIn = Count(usage.InputAudioTokenCount, "audio input");
        var audioOut = Count(usage.OutputAudioTokenCount, "audio output");
#pragma warning restore MEAI001
        if (cached + audioIn > input)
        {
            throw new InvalidUsageException($"the model reported {cached} cached and {audioIn} audio input tokens out of {input} input tokens");
        }

        if (audioOut > output)
        {
            throw new InvalidUsageException($"the model reported {audioOut} audio output tokens out of {output} output tokens");
        }

        if ((audioIn > 0 && price.AudioInputUsdPer1M is null) || (audioOut > 0 && price.AudioOutputUsdPer1M is null))
        {
            throw new InvalidUsageException($"the model reported audio tokens but {model} has no audio price");
        }

        var usd = ((input - cached - audioIn) * price.InputUsdPer1M
                   + cached * price.CachedInputUsdPer1M
                   + audioIn * (price.AudioInputUsdPer1M ?? 0m)
                   + (output - audioOut) * price.OutputUsdPer1M
                   + audioOut * (price.AudioOutputUsdPer1M ?? 0m)) / PerMillion;
        return new CallCost(model, input, cached, output, audioIn, audioOut, usd);
    }

    /// <summary>The most a call can cost: every prompt token at the full input price, every allowed output token.</summary>
    public static CallCost WorstCase(string model, ModelPrice price, long promptTokens, long maxOutputTokens) =>
        new(model, promptTokens, 0, maxOutputTokens, 0, 0,
            (promptTokens * Math.Max(price.InputUsdPer1M, price.AudioInputUsdPer1M ?? 0m)
             + maxOutputTokens * Math.Max(price.OutputUsdPer1M, price.AudioOutputUsdPer1M ?? 0m)) / PerMillion);

    private static long Count(long? value, string what) => value switch
    {
        null => 0,
        < 0 => throw new InvalidUsageException($"the model reported a negative {what} token count ({value})"),
        _ => value.Value,
    };
}

/// <summary>A usage report from the model that cannot be priced as it stands.</summary>
public sealed class InvalidUsageException(string message) : Exception(message);
