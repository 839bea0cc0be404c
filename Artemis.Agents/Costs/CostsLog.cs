namespace Artemis.Agents.Costs;

internal static partial class CostsLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Priced call {CallId} to {Model}: {InputTokens} in ({CachedTokens} cached), {OutputTokens} out, ${Usd}")]
    public static partial void Priced(ILogger logger, string callId, string model, long inputTokens, long cachedTokens, long outputTokens, decimal usd);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Call {CallId} to {Model} cannot be priced from its usage ({Reason}): charged its worst case, ${Usd}")]
    public static partial void ChargedWorstCase(ILogger logger, string callId, string model, string reason, decimal usd);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Call {CallId} was already in the ledger: not counted again")]
    public static partial void AlreadyRecorded(ILogger logger, string callId);
}
