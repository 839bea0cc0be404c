namespace Artemis.Agents.Costs;

/// <summary>Prices of one model in USD per 1M tokens; audio prices apply to realtime models.</summary>
public sealed record ModelPrice(
    decimal InputUsdPer1M,
    decimal CachedInputUsdPer1M,
    decimal OutputUsdPer1M,
    decimal? AudioInputUsdPer1M = null,
    decimal? AudioOutputUsdPer1M = null)
{
    public static readonly string[] Keys =
        [nameof(InputUsdPer1M), nameof(CachedInputUsdPer1M), nameof(OutputUsdPer1M), nameof(AudioInputUsdPer1M), nameof(AudioOutputUsdPer1M)];
}
