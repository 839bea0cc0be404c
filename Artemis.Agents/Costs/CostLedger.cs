using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Artemis.Agents.Costs;

/// <summary>
/// The cost ledger (<c>cost_entries</c>), the source of truth for spending: one row per priced call, keyed by call id,
/// so recording a call twice (a retry of the write, a restart, two replicas draining at once) counts it once.
/// A call's entry reaches it in two steps, so that no PostgreSQL commit sits on the path of a model call: the budget
/// settle queues it on the Redis stream <see cref="PendingStream"/> atomically with counting it (BudgetGuard: one item
/// per call; a budget lease sync, BudgetLeases: one item per batch of calls), and
/// <see cref="DrainAsync"/> moves queued entries into the table in batches (LedgerWriter in the background, every
/// reader before it reads, BudgetReconciler at start). An entry queued by a process killed a moment later is moved
/// by the next drain of any replica.
/// </summary>
public sealed partial class CostLedger(NpgsqlDataSource dataSource, IConnectionMultiplexer redis, BudgetLeases leases, ILogger<CostLedger> logger) : IDisposable
{
    public const string PendingStream = "artemis:ledger:pending";

    /// <summary>Queued items that are not ledger entries (written by hand, or damaged): kept here, with why, for a person.</summary>
    public const string RejectedStream = "artemis:ledger:rejected";
    /// <summary>Stream items read at a time, and entries recorded in one statement.</summary>
    private const int BatchSize = 500;

    private readonly SemaphoreSlim _draining = new(1, 1);

    /// <summary>Moves every queued entry into the ledger; returns how many entries were new to it.</summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        // Calls this replica settled and has not synced yet are queued first (ADR-012), so a reader misses none.
        await leases.FlushAsync(cancellationToken);
        await _draining.WaitAsync(cancellationToken);
        try
        {
            var database = redis.GetDatabase();
            var recorded = 0;
            while (true)
            {
                var queued = await database.StreamRangeAsync(PendingStream, count: BatchSize);
                if (queued.Length == 0)
                {
                    return recorded;
                }

                var entries = new List<LedgerEntry>();
                foreach (var item in queued)
                {
                    try
                    {
                        entries.AddRange(Entries(item));
                    }
                    catch (JsonException exception)
                    {
                        // Not an entry: set aside with the reason rather than block every entry queued after it.
                        await database.StreamAddAsync(RejectedStream,
                            [new("item", item.Id), new("reason", exception.Message), .. item.Values]);
                        QueuedItemRejected(logger, item.Id.ToString(), RejectedStream, exception.Message);
                    }
                }

                foreach (var chunk in entries.Chunk(BatchSize))
                {
                    recorded += await RecordAsync(chunk, cancellationToken);
                }

                // Deleted only once committed: a crash in between leaves them queued, and recording is idempotent.
                await database.StreamDeleteAsync(PendingStream, queued.Select(item => item.Id).ToArray());
            }
        }
        finally
        {
            _draining.Release();
        }
    }

    /// <summary>An item's entries: one call's (a settle of its own) or a batch's (a budget lease sync).</summary>
    private static List<LedgerEntry> Entries(StreamEntry item) =>
        item["entries"] is { IsNull: false } batch ? LedgerEntry.ManyFromJson(batch.ToString())
        : item["entry"] is { IsNull: false } entry ? [LedgerEntry.FromJson(entry.ToString())]
        : throw new JsonException("the item has neither an 'entry' nor an 'entries' field");

    [LoggerMessage(EventId = 4031, Level = LogLevel.Error, Message = "Queued ledger item {Item} is not a ledger entry ({Reason}): moved to {Stream} as it was, not recorded")]
    private static partial void QueuedItemRejected(ILogger logger, string item, string stream, string reason);

    /// <summary>Records the entries in one statement; returns how many were new (the others were already there).</summary>
    public async Task<int> RecordAsync(IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        // One INSERT of unnested arrays, not one per entry: a batch of hundreds costs about what one row does.
        await using var command = dataSource.CreateCommand("""
            INSERT INTO cost_entries (call_id, occurred_at, model, card_id, stage, agent, input_tokens, cached_input_tokens,
                                      output_tokens, audio_input_tokens, audio_output_tokens, cost_usd, estimated)
            SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                                 $9::bigint[], $10::bigint[], $11::bigint[], $12::numeric[], $13::boolean[])
            ON CONFLICT (call_id) DO NOTHING
            """);
        command.Parameters.Add(Array(entries, entry => entry.CallId));
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.OccurredAt.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(Array(entries, entry => entry.Model));
        command.Parameters.Add(Array(entries, entry => entry.CardId));
        command.Parameters.Add(Array(entries, entry => entry.Stage));
        command.Parameters.Add(Array(entries, entry => entry.Agent));
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.InputTokens).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.CachedInputTokens).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.OutputTokens).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.AudioInputTokens).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.AudioOutputTokens).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.CostUsd).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = entries.Select(entry => entry.Estimated).ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Records one entry; false when it was already recorded.</summary>
    public async Task<bool> RecordAsync(LedgerEntry entry, CancellationToken cancellationToken) =>
        await RecordAsync([entry], cancellationToken) == 1;

    public void Dispose() => _draining.Dispose();

    private static NpgsqlParameter Array(IReadOnlyList<LedgerEntry> entries, Func<LedgerEntry, string?> text) =>
        new() { Value = entries.Select(text).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    /// <summary>Every priced call, in total and broken down; entries still queued are drained first, so none is missed.</summary>
    public async Task<CostSummary> SummarizeAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var totals = new NpgsqlCommand("SELECT count(*), coalesce(sum(cost_usd), 0) FROM cost_entries", connection);
        long calls;
        decimal total;
        await using (var reader = await totals.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            calls = reader.GetInt64(0);
            total = reader.GetDecimal(1);
        }

        return new CostSummary(
            calls,
            total,
            await BreakdownAsync(connection, "model", cancellationToken),
            await BreakdownAsync(connection, "coalesce(card_id, '')", cancellationToken),
            await BreakdownAsync(connection, "coalesce(stage, '')", cancellationToken),
            await BreakdownAsync(connection, "coalesce(agent, '')", cancellationToken),
            await BreakdownAsync(connection, "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", cancellationToken),
            await AlertsAsync(connection, cancellationToken));
    }

    /// <summary>The latest budget alerts (BudgetAlerts writes them as events), newest first.</summary>
    private static async Task<IReadOnlyList<BudgetAlertRecord>> AlertsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT occurred_at, payload->>'window', (payload->>'limitUsd')::numeric, (payload->>'spentUsd')::numeric, (payload->>'threshold')::float8
            FROM events WHERE kind = 'budget.alert' ORDER BY id DESC LIMIT 20
            """, connection);
        var alerts = new List<BudgetAlertRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            alerts.Add(new BudgetAlertRecord(
                new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero), reader.GetString(1), reader.GetDecimal(2), reader.GetDecimal(3), reader.GetDouble(4)));
        }

        return alerts;
    }

    private static async Task<IReadOnlyList<CostBreakdown>> BreakdownAsync(NpgsqlConnection connection, string groupBy, CancellationToken cancellationToken)
    {
        // groupBy is one of the fixed expressions above, never input.
        await using var command = new NpgsqlCommand(
            $"SELECT {groupBy} AS key, count(*), sum(cost_usd), sum(input_tokens), sum(output_tokens) FROM cost_entries GROUP BY 1 ORDER BY 1",
            connection);
        var rows = new List<CostBreakdown>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new CostBreakdown(reader.GetString(0), reader.GetInt64(1), reader.GetDecimal(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return rows;
    }
}

public sealed record CostBreakdown(string Key, long Calls, decimal Usd, long InputTokens, long OutputTokens);

public sealed record CostSummary(
    long Calls,
    decimal TotalUsd,
    IReadOnlyList<CostBreakdown> ByModel,
    IReadOnlyList<CostBreakdown> ByCard,
    IReadOnlyList<CostBreakdown> ByStage,
    IReadOnlyList<CostBreakdown> ByAgent,
    IReadOnlyList<CostBreakdown> ByDay,
    IReadOnlyList<BudgetAlertRecord> Alerts);

public sealed record BudgetAlertRecord(DateTimeOffset OccurredAt, string Window, decimal LimitUsd, decimal SpentUsd, double Threshold);
