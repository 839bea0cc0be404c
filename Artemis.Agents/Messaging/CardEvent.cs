using System.Text.Json;

namespace Artemis.Agents.Messaging;

/// <summary>
/// One published event. <see cref="Id"/> is the row id in the <c>events</c> table: it orders all events, is the SSE
/// event id, and is carried in the Redis stream entry, so every copy of an event names the same id.
/// </summary>
public sealed record CardEvent(long Id, string? CardId, string Kind, DateTimeOffset OccurredAt, JsonElement Payload);
