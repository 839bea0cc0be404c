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
        Checked(JsonSerializer.Deserialize(json, LedgerEntryJson.Default.LedgerEntry) ?? throw new JsonException("a ledger entry cannot be null"));

    /// <summary>Several entries as one JSON array (a batch queued as one stream item).</summary>
    public static string ToJson(List<LedgerEntry> entries) => JsonSerializer.Serialize(entries, LedgerEntryJson.Default.ListLedgerEntry);

    public static List<LedgerEntry> ManyFromJson(string json)
    {
        var entries = JsonSerializer.Deserialize(json, LedgerEntryJson.Default.ListLedgerEntry) ?? throw new JsonException("a batch of ledger entries cannot be null");
        foreach (var entry in entries)
        {
            Checked(entry ?? throw new JsonException("a batch of ledger entries cannot hold null"));
        }

        return entries;
    }

    /// <summary>An entry the ledger can record: a call id and a model, and no negative count or cost.</summary>
    private static LedgerEntry Checked(LedgerEntry entry) =>
        string.IsNullOrEmpty(entry.CallId) || string.IsNullOrEmpty(entry.Model)
            ? throw new JsonException("a ledger entry needs a CallId and a Model")
            : entry.InputTokens < 0 || entry.CachedInputTokens < 0 || entry.OutputTokens < 0 || entry.AudioInputTokens < 0 || entry.AudioOutputTokens < 0 || entry.CostUsd < 0
                ? throw new JsonException($"ledger entry {entry.CallId} has a negative token count or cost")
                : entry;
}

[JsonSerializable(typeof(LedgerEntry))]
[JsonSerializable(typeof(List<LedgerEntry>))]
internal sealed partial class LedgerEntryJson : JsonSerializerContext;
