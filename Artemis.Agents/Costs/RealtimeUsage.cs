using Microsoft.Extensions.AI;

namespace Artemis.Agents.Costs;

/// <summary>
/// The usage a realtime <c>response.done</c> reports (GA shape), mapped onto the token counts <see cref="CallCost.Price"/>
/// prices, so realtime responses are priced by the same code and catalog as chat calls.
/// </summary>
public sealed record RealtimeUsage(
    long InputTokens,
    long InputTextTokens,
    long InputAudioTokens,
    long CachedTokens,
    long CachedAudioTokens,
    long OutputTokens,
    long OutputAudioTokens)
{
    /// <summary>
    /// Realtime reports cached tokens as a part of the text and audio input; CallCost treats cached, audio and plain
    /// text input as disjoint parts. So audio input here is the uncached audio, and the cached tokens (text and audio)
    /// are priced at the model's cached input price: the catalog has one cached price per model.
    /// </summary>
    public UsageDetails ToUsageDetails()
    {
        var details = new UsageDetails
        {
            InputTokenCount = InputTokens,
            CachedInputTokenCount = CachedTokens,
            OutputTokenCount = OutputTokens,
            TotalTokenCount = InputTokens + OutputTokens,
        };
#pragma warning disable MEAI001 // audio counts are experimental in Microsoft.Extensions.AI
        details.InputAudioTokenCount = InputAudioTokens - CachedAudioTokens;
        details.OutputAudioTokenCount = OutputAudioTokens;
#pragma warning restore MEAI001
        return details;
    }

    /// <summary>Prices the usage exactly; throws <see cref="InvalidUsageException"/> when it cannot be right.</summary>
    public CallCost Price(string model, ModelPrice price)
    {
        if (InputTextTokens + InputAudioTokens != InputTokens)
        {
            throw new InvalidUsageException($"the model reported {InputTextTokens} text and {InputAudioTokens} audio input tokens but {InputTokens} input tokens");
        }

        if (CachedAudioTokens > CachedTokens || CachedAudioTokens > InputAudioTokens || CachedTokens - CachedAudioTokens > InputTextTokens)
        {
            throw new InvalidUsageException($"the model reported {CachedTokens} cached tokens ({CachedAudioTokens} audio) that do not fit its input");
        }

        return CallCost.Price(model, price, ToUsageDetails());
    }
}
