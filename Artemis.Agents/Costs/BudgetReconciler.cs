using Artemis.Agents.Persistence;
using Npgsql;

namespace Artemis.Agents.Costs;

/// <summary>
/// At start, moves entries still queued for the ledger into it (a process killed after settling a call and before
/// its entry was written), then replays the ledger of the last 40 days into the budget counters. Settling is idempotent per call id, so
/// calls already counted are skipped and a call whose process was killed after writing the ledger but before
/// settling is counted exactly once. Reservations of a killed process expire and are swept by later calls.
/// </summary>
public sealed partial class BudgetReconciler(
    DatabaseMigrator migrator, CostLedger ledger, NpgsqlDataSource dataSource, BudgetGuard budgets, BudgetWindows windows, ILogger<BudgetReconciler> logger) : BackgroundService
{
    private const int BatchSize = 500;

    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Completed => _completed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await migrator.Completed.WaitAsync(stoppingToken);
            await ledger.DrainAsync(stoppingToken);
            var counted = await ReconcileAsync(stoppingToken);
            Reconciled(logger, counted);
            _completed.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _completed.TrySetCanceled(stoppingToken);
        }
        catch (Exception exception) when (exception is NpgsqlException or StackExchange.Redis.RedisException or System.Text.Json.JsonException)
        {
            ReconcileFailed(logger, exception);
            _completed.TrySetException(exception);
        }
    }

    /// <summary>
    /// Counts every recent ledger row not yet in the counters, a batch of rows per round trip (a ledger of millions of
    /// calls is replayed in thousands of them, not millions); returns how many were counted now.
    /// </summary>
    public async Task<int> ReconcileAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT call_id, occurred_at, card_id, cost_usd FROM cost_entries WHERE occurred_at >= now() - interval '40 days'");
        var counted = 0;
        var batch = new List<(string, IReadOnlyList<BudgetWindow>, decimal)>(BatchSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var occurred = new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero);
            var card = reader.IsDBNull(2) ? null : reader.GetString(2);
            batch.Add((reader.GetString(0), windows.For(occurred, card), reader.GetDecimal(3)));
            if (batch.Count == BatchSize)
            {
                counted += await budgets.CountAsync(batch);
                batch.Clear();
            }
        }

        return counted + await budgets.CountAsync(batch);
    }

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "Budget counters reconciled with the ledger: {Counted} calls counted now")]
    private static partial void Reconciled(ILogger logger, int counted);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Error, Message = "Budget counters could not be reconciled with the ledger")]
    private static partial void ReconcileFailed(ILogger logger, Exception exception);
}
