using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>
/// Wakes live readers when any replica publishes events (StackExchange.Redis cannot block on XREAD over the shared
/// multiplexer). Readers poll anyway every <see cref="MessagingOptions.PollMilliseconds"/>.
/// </summary>
public sealed class EventSignal(IConnectionMultiplexer redis) : RedisSignal(redis, EventPublisher.SignalChannel);
