using Artemis.Agents.Cards;
using Artemis.Agents.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Registry;
using StackExchange.Redis;

namespace Artemis.Agents.Supervision;

/// <summary>
/// The supervisor of one replica: claims cards while it has room (<c>Artemis:Agents:MaxConcurrentCards</c>), runs each
/// through a <see cref="CardRunner"/> and keeps its lease alive. A lease that another replica took over, or a card
/// cancelled under the work, stops that card's work at once; on shutdown the leases are given back so that the next
/// replica (or this one restarted) resumes the cards without waiting for them to lapse.
/// </summary>
public sealed class Supervisor(
    CardLeases leases,
    CardRunner runner,
    CardQueueSignal queued,
    DatabaseMigrator migrator,
    ResiliencePipelineProvider<string> pipelines,
    IOptions<AgentsOptions> options,
    ILogger<Supervisor> logger) : BackgroundService
{
    public const string LeasePipeline = "artemis-lease";

    /// <summary>This replica's name in leases and reports: host, process and a random part (a restart is a new owner).</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..6]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Supervise)
        {
            SupervisionLog.NotSupervising(logger);
            return;
        }

        await migrator.Completed.WaitAsync(stoppingToken);
        SupervisionLog.Started(logger, Owner, settings.MaxConcurrentCards, settings.ParallelDevelopers);
        var running = new Dictionary<string, Task>(StringComparer.Ordinal);
        var poll = TimeSpan.FromMilliseconds(settings.PollMilliseconds);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Room first: a card that just ended frees its place for a card queued meanwhile.
            foreach (var done in running.Where(pair => pair.Value.IsCompleted).Select(pair => pair.Key).ToList())
            {
                running.Remove(done);
            }

            // Taken before looking, so that a card queued meanwhile still wakes the wait below. Never waits for Redis:
            // while it is away the poll goes on alone.
            var announced = queued.Next();
            try
            {
                while (running.Count < settings.MaxConcurrentCards && await leases.ClaimAsync(Owner, stoppingToken) is { } lease)
                {
                    SupervisionLog.Claimed(logger, lease.CardId, Owner, lease.Generation);
                    running[lease.CardId] = RunCardAsync(lease, stoppingToken);
                }

                failures = 0;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // The database is away: try again, more slowly each time (up to 30 s), rather than spin.
                failures++;
                SupervisionLog.ClaimFailed(logger, failures, exception);
            }

            var wait = failures == 0 ? poll : TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures)));
            try
            {
                List<Task> wakeUps = [Task.Delay(wait, stoppingToken), .. running.Values];
                if (failures == 0 && running.Count < settings.MaxConcurrentCards)
                {
                    // A card queued on any replica wakes the claim at once while there is room (not while the
                    // database is failing: that wait is the back-off); the poll finds the rest.
                    wakeUps.Add(announced);
                }

                await Task.WhenAny(wakeUps);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await Task.WhenAll(running.Values);
    }

    private async Task RunCardAsync(CardLease lease, CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var work = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewal = new LeaseKeeper(leases, pipelines.GetPipeline(LeasePipeline), lease, TimeSpan.FromSeconds(options.Value.LeaseSeconds), work, logger);
        var keeping = renewal.RunAsync();
        try
        {
            await runner.RunAsync(lease, work.Token);
        }
        catch (Exception exception) when (renewal.State == LeaseState.Lost)
        {
            // Someone else holds the card now: write nothing more.
            SupervisionLog.WorkStopped(logger, lease.CardId, exception.Message);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            SupervisionLog.Released(logger, lease.CardId, Owner);
            await CloseQuietlyAsync(() => leases.ReleaseAsync(lease, CancellationToken.None), lease);
        }
        catch (Exception exception) when (renewal.State == LeaseState.Finished || exception is CardWorkStoppedException)
        {
            // Cancelled under the work (seen by the renewal, or by a fenced write first); closing checks the lease is
            // still ours, so a card taken over by another replica is left alone.
            SupervisionLog.StoppedForCancel(logger, lease.CardId, exception.Message);
            await CloseQuietlyAsync(() => runner.CloseCancelledAsync(lease, CancellationToken.None), lease);
        }
        catch (Exception exception) when (exception is NpgsqlException or RedisException or TimeoutException)
        {
            // Infrastructure, not the card: give it back for a later claim rather than fail it.
            SupervisionLog.CardError(logger, lease.CardId, exception);
            await CloseQuietlyAsync(() => leases.ReleaseAsync(lease, CancellationToken.None), lease);
        }
        catch (Exception exception)
        {
            SupervisionLog.CardError(logger, lease.CardId, exception);
            await CloseQuietlyAsync(() => runner.FailAsync(lease, $"the supervisor could not go on: {exception.Message}", CancellationToken.None), lease);
        }
        finally
        {
            await work.CancelAsync();
            await keeping;
        }
    }

    private async Task CloseQuietlyAsync(Func<Task> close, CardLease lease)
    {
        try
        {
            await close();
        }
        catch (Exception exception) when (exception is NpgsqlException or RedisException or TimeoutException or CardWorkStoppedException or IOException)
        {
            // The lease lapses by itself; the next claim finds the card where it was written last.
            SupervisionLog.CloseFailed(logger, lease.CardId, exception);
        }
    }

    /// <summary>Renews one card's lease every third of its length until the work ends; stops the work when the lease is gone or the card finished.</summary>
    private sealed class LeaseKeeper(CardLeases leases, ResiliencePipeline pipeline, CardLease lease, TimeSpan length, CancellationTokenSource work, ILogger logger)
    {
        private volatile int _state = (int)LeaseState.Held;

        public LeaseState State => (LeaseState)_state;

        public async Task RunAsync()
        {
            var renewed = TimeProvider.System.GetTimestamp();
            // A third of the lease, and at least every 2 s: the renewal is also how a cancelled card is noticed.
            using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Min(length.Ticks / 3, TimeSpan.FromSeconds(2).Ticks)));
            try
            {
                while (await timer.WaitForNextTickAsync(work.Token))
                {
                    try
                    {
                        var state = await pipeline.ExecuteAsync(token => new ValueTask<LeaseState>(leases.RenewAsync(lease, token)), work.Token);
                        renewed = TimeProvider.System.GetTimestamp();
                        if (state == LeaseState.Closed)
                        {
                            // The work wrote its last step and is on its way out: let it end by itself.
                            _state = (int)state;
                            return;
                        }

                        if (state != LeaseState.Held)
                        {
                            _state = (int)state;
                            SupervisionLog.LeaseEnded(logger, lease.CardId, state);
                            await work.CancelAsync();
                            return;
                        }
                    }
                    catch (Exception exception) when (exception is NpgsqlException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
                    {
                        if (TimeProvider.System.GetElapsedTime(renewed) >= length)
                        {
                            // Past the lease's end without a renewal: another replica may already hold the card.
                            _state = (int)LeaseState.Lost;
                            SupervisionLog.LeaseEnded(logger, lease.CardId, LeaseState.Lost);
                            await work.CancelAsync();
                            return;
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The work ended.
            }
        }
    }
}
