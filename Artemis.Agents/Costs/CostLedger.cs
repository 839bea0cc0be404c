using Npgsql;
using NpgsqlTypes;

namespace Artemis.Agents.Costs;

/// <summary>
/// The cost ledger (<c>cost_entries</c>), the source of truth for spending: one row per priced call, keyed by call id,
/// so recording a call twice (a retry of the write, a restart) counts it once.
/// </summary>
public sealed class CostLedger(NpgsqlDataSource dataSource)
{
    /// <summary>Records the call; false when it was already recorded.</summary>
    public async Task<bool> RecordAsync(string callId, CallCost cost, CostAttribution attribution, bool estimated, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO cost_entries (call_id, model, card_id, stage, agent, input_tokens, cached_input_tokens, output_tokens,
                                      audio_input_tokens, audio_output_tokens, cost_usd, estimated)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (call_id) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = callId });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.Model });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)attribution.CardId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)attribution.Stage ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)attribution.Agent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.InputTokens });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.CachedInputTokens });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.OutputTokens });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.AudioInputTokens });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.AudioOutputTokens });
        command.Parameters.Add(new NpgsqlParameter { Value = cost.Usd });
        command.Parameters.Add(new NpgsqlParameter { Value = estimated });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<CostSummary> SummarizeAsync(CancellationToken cancellationToken)
    {
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
            await BreakdownAsync(connection, "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", cancellationToken));
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
    IReadOnlyList<CostBreakdown> ByDay);
