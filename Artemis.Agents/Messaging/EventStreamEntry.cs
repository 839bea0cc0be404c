using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>The fields of an event's entry in the Redis stream: the Postgres id and everything a live reader shows.</summary>
internal static class EventStreamEntry
{
    private const string Id = "id";
    private const string Card = "card";
    private const string Kind = "kind";
    private const string At = "at";
    private const string Payload = "payload";

    /// <summary>The field names, in the order <see cref="ToFields"/> gives them.</summary>
    public static readonly IReadOnlyList<string> Names = [Id, Card, Kind, At, Payload];

    public static int FieldCount => Names.Count;

    public static NameValueEntry[] ToFields(CardEvent stored) =>
    [
        new(Id, stored.Id),
        new(Card, stored.CardId ?? ""),
        new(Kind, stored.Kind),
        // Microseconds since the epoch: Postgres's precision, so both copies of an event carry the same time.
        new(At, (stored.OccurredAt - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond),
        new(Payload, stored.Payload.GetRawText()),
    ];

    /// <summary>Whether a stream entry is of card <paramref name="cardId"/>, without parsing its payload.</summary>
    public static bool IsOfCard(StreamEntry entry, string cardId) => (string?)entry[Card] == cardId;

    /// <summary>The event in a stream entry; null for an entry this version does not understand.</summary>
    public static CardEvent? Parse(StreamEntry entry)
    {
        if (!long.TryParse((string?)entry[Id], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            || !long.TryParse((string?)entry[At], NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds)
            || entry[Kind] is not { IsNullOrEmpty: false } kind
            || entry[Payload] is not { IsNull: false } payload)
        {
            return null;
        }

        var card = (string?)entry[Card];
        try
        {
            using var document = JsonDocument.Parse((string)payload!);
            return new CardEvent(
                id,
                string.IsNullOrEmpty(card) ? null : card,
                kind!,
                DateTimeOffset.UnixEpoch.AddTicks(microseconds * TimeSpan.TicksPerMicrosecond),
                document.RootElement.Clone());
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
