using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary><c>GET /api/supervisor/report</c>: how the supervisors (every replica's) are doing, from Postgres.</summary>
public sealed record SupervisorReport(
    DateTimeOffset GeneratedAt,
    IReadOnlyDictionary<string, long> CardsByStage,
    long Finished,
    long Succeeded,
    double? SuccessRate,
    IReadOnlyList<StageTime> MeanTimePerStage,
    long Retries,
    long Interventions,
    decimal SpentUsd,
    IReadOnlyList<AgentFigures> Agents,
    IReadOnlyList<ActiveCard> Active,
    long Lessons);

/// <summary>How long cards stayed in a stage, on average, over the cards that left it.</summary>
public sealed record StageTime(string Stage, long Cards, double MeanSeconds);

/// <summary>One developer agent name's record over every card.</summary>
public sealed record AgentFigures(string Agent, long Attempts, long Wins, long Passed, long Turns, long Retries, long Interventions, decimal CostUsd);

/// <summary>A card some replica is working on now.</summary>
public sealed record ActiveCard(string CardId, string Title, string Stage, string Owner, DateTimeOffset LeaseExpiresAt);

public static class SupervisorApi
{
    public static IEndpointRouteBuilder MapSupervisorApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(ApiExtensions.ApiPrefix)
            .MapGet("/supervisor/report", GetReportAsync)
            .WithName("GetSupervisorReport")
            .WithTags("Supervisor")
            .WithSummary("Cards by stage, success rate, mean time per stage, retries, interventions, spend, per-agent figures, active cards");
        return app;
    }

    public static async Task<Ok<SupervisorReport>> GetReportAsync(NpgsqlDataSource dataSource, CostLedger ledger, CancellationToken cancellationToken)
    {
        // Spend comes from the ledger, whose queue is drained first (as /api/costs does).
        await ledger.DrainAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        var byStage = Enum.GetNames<CardStage>().ToDictionary(name => name, _ => 0L, StringComparer.Ordinal);
        await ReadAsync(connection, transaction, "SELECT stage, count(*) FROM cards GROUP BY stage", reader => byStage[reader.GetString(0)] = reader.GetInt64(1), cancellationToken);

        var stageTimes = new List<StageTime>();
        // Time in a stage = from the event that entered it (card.created or card.stage) to the one that left it.
        await ReadAsync(connection, transaction, """
            WITH moves AS (
                SELECT kind, payload->>'from' AS left_stage, occurred_at,
                       lag(occurred_at) OVER (PARTITION BY card_id ORDER BY id) AS entered_at
                FROM events
                WHERE card_id IS NOT NULL AND kind IN ('card.created', 'card.stage', 'card.cancelled'))
            SELECT left_stage, count(*), avg(extract(epoch FROM occurred_at - entered_at))::float8
            FROM moves WHERE kind <> 'card.created' AND entered_at IS NOT NULL AND left_stage IS NOT NULL
            GROUP BY left_stage
            """, reader => stageTimes.Add(new StageTime(reader.GetString(0), reader.GetInt64(1), Math.Round(reader.GetDouble(2), 3))), cancellationToken);
        stageTimes.Sort((a, b) => Order(a.Stage).CompareTo(Order(b.Stage)));

        long retries = 0, interventions = 0;
        var agents = new List<AgentFigures>();
        await ReadAsync(connection, transaction, """
            SELECT a.agent, count(*), count(*) FILTER (WHERE c.winner_attempt = a.attempt), count(*) FILTER (WHERE a.tests_passed),
                   coalesce(sum(a.turns), 0), coalesce(sum(a.retries), 0), coalesce(sum(a.interventions), 0), coalesce(sum(a.cost_usd), 0)
            FROM attempts a JOIN cards c ON c.id = a.card_id
            GROUP BY a.agent ORDER BY a.agent
            """, reader =>
            {
                var figures = new AgentFigures(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), NumericColumns.WithoutTrailingZeros(reader.GetDecimal(7)));
                agents.Add(figures);
                retries += figures.Retries;
                interventions += figures.Interventions;
            }, cancellationToken);

        decimal spent = 0;
        await ReadAsync(connection, transaction, "SELECT coalesce(sum(cost_usd), 0) FROM cost_entries WHERE card_id IS NOT NULL",
            reader => spent = NumericColumns.WithoutTrailingZeros(reader.GetDecimal(0)), cancellationToken);

        var active = new List<ActiveCard>();
        await ReadAsync(connection, transaction, """
            SELECT id, title, stage, lease_owner, lease_expires_at FROM cards
            WHERE lease_owner IS NOT NULL AND lease_expires_at > now() ORDER BY created_at
            """, reader => active.Add(new ActiveCard(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4))), cancellationToken);

        long lessons = 0;
        await ReadAsync(connection, transaction, "SELECT count(*) FROM lessons", reader => lessons = reader.GetInt64(0), cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var succeeded = byStage[nameof(CardStage.Done)];
        var finished = succeeded + byStage[nameof(CardStage.Failed)];
        return TypedResults.Ok(new SupervisorReport(DateTimeOffset.UtcNow, byStage, finished, succeeded,
            finished == 0 ? null : Math.Round((double)succeeded / finished, 4), stageTimes, retries, interventions, spent, agents, active, lessons));
    }

    private static int Order(string stage) => Enum.TryParse<CardStage>(stage, out var parsed) ? (int)parsed : int.MaxValue;

    private static async Task ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            row(reader);
        }
    }
}
