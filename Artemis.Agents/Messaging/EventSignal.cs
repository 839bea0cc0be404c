using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>
/// Wakes live readers when any replica publishes: one pub/sub subscription per process (StackExchange.Redis cannot
/// block on XREAD over the shared multiplexer), fanned out to every waiting reader through a task that completes on
/// the next signal. Readers poll anyway every <see cref="MessagingOptions.PollMilliseconds"/>, so a signal lost while
/// the subscription reconnects only delays them.
/// </summary>
public sealed class EventSignal(IConnectionMultiplexer redis) : IDisposable
{
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private TaskCompletionSource _next = NewSignal();
    private volatile bool _subscribed;

    /// <summary>
    /// A task that completes at the next signal. Take it before reading the stream, then wait on it only if the read
    /// found nothing: a publish between the two still wakes the reader.
    /// </summary>
    public async Task<Task> NextAsync(CancellationToken cancellationToken)
    {
        if (!_subscribed)
        {
            await SubscribeAsync(cancellationToken);
        }

        return Volatile.Read(ref _next).Task;
    }

    private async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        await _subscribing.WaitAsync(cancellationToken);
        try
        {
            if (!_subscribed)
            {
                await redis.GetSubscriber().SubscribeAsync(EventPublisher.SignalChannel, (_, _) => Signal());
                _subscribed = true;
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Not subscribed: readers fall back to polling and the next call tries again.
        }
        finally
        {
            _subscribing.Release();
        }
    }

    public void Dispose() => _subscribing.Dispose();

    private void Signal() => Interlocked.Exchange(ref _next, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
