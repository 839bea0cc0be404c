using Artemis.Agents.Messaging;
using StackExchange.Redis;

namespace Artemis.Agents.Cards;

/// <summary>
/// Tells every replica's supervisor that a card was queued, so that it is claimed at once rather than at the next
/// poll (<c>Artemis:Agents:PollMilliseconds</c>, 1 s by default). The poll still finds every card: a card whose
/// announcement was lost, or one whose lease lapsed, waits for it.
/// </summary>
public sealed class CardQueueSignal(IConnectionMultiplexer redis) : RedisSignal(redis, Channel)
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("artemis:cards:queued");

    /// <summary>Announces card <paramref name="cardId"/>; Redis being away is not the card's problem (the poll finds it).</summary>
    public async Task AnnounceAsync(string cardId)
    {
        try
        {
            await PublishAsync(cardId);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Claimed at the next poll instead.
        }
    }
}
