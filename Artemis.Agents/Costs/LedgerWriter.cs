namespace Artemis.Agents.Costs;

/// <summary>
/// Moves the entries that settled calls queue into the cost ledger, off the path of the calls: woken by each settle
/// (<see cref="Nudge"/>, after a short gathering pause so a burst of calls is one batch) and once a second for entries
/// queued by another replica or a killed process. Entries queued while a batch is written go in the next, so the
/// ledger keeps up with any rate of calls; readers drain before they read, so the pause is never seen.
/// </summary>
public sealed partial class LedgerWriter : BackgroundService
{
    private readonly CostLedger _ledger;
    private readonly BudgetReconciler _reconciler;
    private readonly ILogger<LedgerWriter> _logger;

    public LedgerWriter(CostLedger ledger, BudgetReconciler reconciler, BudgetLeases leases, ILogger<LedgerWriter> logger)
    {
        _ledger = ledger;
        _reconciler = reconciler;
        _logger = logger;
        // A sync of the budget leases that queued ledger entries wakes the writer, as a settle used to.
        leases.Queued += Nudge;
    }

    private static readonly TimeSpan Sweep = TimeSpan.FromSeconds(1);

    /// <summary>How long a nudge waits for more entries: a burst of calls becomes one batch, not one commit each.</summary>
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(100);
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Asks for a drain soon; cheap, and never waits.</summary>
    public void Nudge()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another nudge got there first: one drain serves both.
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The reconciler drains first at start, then replays the ledger; a failed reconcile has logged why, and
        // draining still moves queued entries into the ledger.
        await ((Task)_reconciler.Completed).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _wake.WaitAsync(Sweep, stoppingToken))
                {
                    await Task.Delay(Gather, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }

            await DrainAsync(stoppingToken);
        }

        // Shutting down: what this process queued goes in now rather than at the next start.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await DrainAsync(last.Token);
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _ledger.DrainAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or StackExchange.Redis.RedisException or System.Text.Json.JsonException)
        {
            // The entries stay queued in Redis; the next drain retries them.
            DrainFailed(_logger, exception);
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _wake.Dispose();
    }

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Queued cost entries could not be moved into the ledger yet; they stay queued and are retried")]
    private static partial void DrainFailed(ILogger logger, Exception exception);
}
