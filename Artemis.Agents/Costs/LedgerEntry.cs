using System.Text.Json;
using System.Text.Json.Serialization;

namespace Artemis.Agents.Costs;

/// <summary>
/// One row of the cost ledger: a priced call, its tokens, its dollars and who it was for. It travels from the settle
/// step to PostgreSQL through Redis (see <see cref="CostLedger"/>), so it serializes itself.
/// </summary>
public sealed record LedgerEntry(
    string CallId,
    DateTimeOffset OccurredAt,
    string Model,
    string? CardId,
    string? Stage,
    string? Agent,
    long InputTokens,
    long CachedInputTokens,
    long OutputTokens,
    long AudioInputTokens,
    long AudioOutputTokens,
    decimal CostUsd,
    bool Estimated)
{
    public static LedgerEntry For(string callId, DateTimeOffset occurredAt, CallCost cost, CostAttribution attribution, bool estimated) =>
        new(callId, occurredAt, cost.Model, attribution.CardId, attribution.Stage, attribution.Agent, cost.InputTokens, cost.CachedInputTokens,
            cost.OutputTokens, cost.AudioInputTokens, cost.AudioOutputTokens, cost.Usd, estimated);

    public string ToJson() => JsonSerializer.Serialize(this, LedgerEntryJson.Default.LedgerEntry);

    public static LedgerEntry FromJson(string json) =>
        JsonSerializer.Deserialize(json, LedgerEntryJson.Default.LedgerEntry) ?? throw new JsonException("a ledger entry cannot be null");

    /// <summary>Several entries as one JSON array (a batch queued as one stream item).</summary>
    public static string ToJson(List<LedgerEntry> entries) => JsonSerializer.Serialize(entries, LedgerEntryJson.Default.ListLedgerEntry);

    public static List<LedgerEntry> ManyFromJson(string json) =>
        JsonSerializer.Deserialize(json, LedgerEntryJson.Default.ListLedgerEntry) is { } entries && !entries.Contains(null!)
            ? entries
            : throw new JsonException("a batch of ledger entries cannot be or hold null");
}

[JsonSerializable(typeof(LedgerEntry))]
[JsonSerializable(typeof(List<LedgerEntry>))]
internal sealed partial class LedgerEntryJson : JsonSerializerContext;
