using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>
/// A wake-up shared by every replica: one Redis pub/sub subscription per process (made on first use), fanned out to
/// every waiter through a task that completes at the next message. It only shortens waits: whoever waits on it polls
/// anyway, so a message lost while the subscription is down (or never made, Redis being away) only delays them.
/// </summary>
public abstract class RedisSignal(IConnectionMultiplexer redis, RedisChannel channel)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = NewSignal();
    private Task? _subscribing;
    private volatile bool _subscribed;

    /// <summary>
    /// A task that completes at the next message. Take it before looking for work, then wait on it only if there was
    /// none: a message between the two still wakes the waiter.
    /// </summary>
    public async Task<Task> NextAsync(CancellationToken cancellationToken)
    {
        if (!_subscribed)
        {
            await Subscribing().WaitAsync(cancellationToken);
        }

        return Volatile.Read(ref _next).Task;
    }

    /// <summary>
    /// Like <see cref="NextAsync"/> without waiting for the subscription (made in the background when missing): for a
    /// waiter whose poll must not be held up while Redis is away. Messages before the subscription is made are missed.
    /// </summary>
    public Task Next()
    {
        if (!_subscribed)
        {
            _ = Subscribing();
        }

        return Volatile.Read(ref _next).Task;
    }

    private Task Subscribing()
    {
        lock (_gate)
        {
            return _subscribing is { IsCompleted: false } pending ? pending : _subscribing = SubscribeAsync();
        }
    }

    protected Task PublishAsync(RedisValue message) => redis.GetSubscriber().PublishAsync(channel, message);

    private async Task SubscribeAsync()
    {
        try
        {
            await redis.GetSubscriber().SubscribeAsync(channel, (_, _) => Signal());
            _subscribed = true;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Not subscribed: waiters fall back to polling and the next call tries again.
        }
    }

    private void Signal() => Interlocked.Exchange(ref _next, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
