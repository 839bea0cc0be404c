using System.Text.Json;
using Artemis.Agents.Messaging;
using Artemis.Agents.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace Artemis.Agents.Cards;

/// <summary>
/// Cards and their attempts in Postgres. Every change of a card is made in the same transaction as the event that
/// tells of it (through <see cref="EventPublisher"/>), so there is never a card without its <c>card.created</c>, nor
/// a cancelled card without its <c>card.cancelled</c>.
/// </summary>
public sealed class CardStore(NpgsqlDataSource dataSource, EventPublisher events, CardQueueSignal queued)
{
    public const int RecentEvents = 20;

    private const string CardColumns = """
        id, title, description, workspace, workspace_kind, test_command, budget_usd, stage, created_at, updated_at,
        stage_changed_at, finished_at, lease_owner, lease_expires_at, plan, winner_attempt, result_reason
        """;

    /// <summary>Stores a new card, Queued, and publishes <c>card.created</c>.</summary>
    public async Task<Card> CreateAsync(NewCard card, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        // Ids are random; a collision (60 bits) is retried with a new one rather than failing the request.
        for (var tries = 0; ; tries++)
        {
            var id = CardIds.New();
            Card? created = null;
            var published = await events.PublishAsync(id, EventKinds.CardCreated, async (connection, transaction, token) =>
            {
                await using var command = new NpgsqlCommand($"""
                    INSERT INTO cards (id, title, description, workspace, workspace_kind, test_command, budget_usd)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING {CardColumns}
                    """, connection, transaction);
                command.Parameters.Add(new NpgsqlParameter { Value = id });
                command.Parameters.Add(new NpgsqlParameter { Value = card.Title });
                command.Parameters.Add(new NpgsqlParameter { Value = card.Description });
                command.Parameters.Add(new NpgsqlParameter { Value = card.Workspace });
                command.Parameters.Add(new NpgsqlParameter { Value = card.WorkspaceKind });
                command.Parameters.Add(new NpgsqlParameter { Value = card.TestCommand });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)card.BudgetUsd ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
                await using var reader = await command.ExecuteReaderAsync(token);
                if (!await reader.ReadAsync(token))
                {
                    return null;
                }

                created = ReadCard(reader);
                return new
                {
                    created.Title,
                    created.Workspace,
                    created.WorkspaceKind,
                    created.TestCommand,
                    created.BudgetUsd,
                    Stage = created.Stage.ToString(),
                };
            }, cancellationToken);

            if (published is not null && created is not null)
            {
                await queued.AnnounceAsync(created.Id);
                return created;
            }

            if (tries >= 4)
            {
                throw new InvalidOperationException("Could not find a free card id in 5 tries; the id generator is broken.");
            }
        }
    }

    /// <summary>Cards, newest first, optionally only those in one stage.</summary>
    public async Task<IReadOnlyList<Card>> ListAsync(CardStage? stage, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {CardColumns} FROM cards
            WHERE $1::text IS NULL OR stage = $1
            ORDER BY created_at DESC, id
            LIMIT $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)stage?.ToString() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var cards = new List<Card>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            cards.Add(ReadCard(reader));
        }

        return cards;
    }

    /// <summary>The card; <see cref="CardNotFoundException"/> when there is none.</summary>
    public async Task<Card> GetAsync(string id, CancellationToken cancellationToken) =>
        await FindAsync(id, cancellationToken) ?? throw new CardNotFoundException(id);

    public async Task<Card?> FindAsync(string id, CancellationToken cancellationToken)
    {
        if (!CardIds.IsWellFormed(id))
        {
            return null;
        }

        await using var command = dataSource.CreateCommand($"SELECT {CardColumns} FROM cards WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadCard(reader) : null;
    }

    /// <summary>The card with its attempts and a summary of its events, read in one snapshot.</summary>
    public async Task<CardDetails> GetDetailsAsync(string id, CancellationToken cancellationToken)
    {
        if (!CardIds.IsWellFormed(id))
        {
            throw new CardNotFoundException(id);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        Card card;
        await using (var command = new NpgsqlCommand($"SELECT {CardColumns} FROM cards WHERE id = $1", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            card = await reader.ReadAsync(cancellationToken) ? ReadCard(reader) : throw new CardNotFoundException(id);
        }

        var attempts = new List<Attempt>();
        await using (var command = new NpgsqlCommand("""
            SELECT attempt, agent, status, turns, retries, cost_usd, diff, diff_lines, edits_tests, tests_passed, tests_failed,
                   test_exit_code, test_output, error, created_at, started_at, finished_at, interventions, outcome, test_runs
            FROM attempts WHERE card_id = $1 ORDER BY attempt
            """, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                attempts.Add(new Attempt(
                    reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetDecimal(5),
                    NullableString(reader, 6), reader.IsDBNull(7) ? null : reader.GetInt32(7), reader.GetBoolean(8),
                    reader.IsDBNull(9) ? null : reader.GetBoolean(9), reader.IsDBNull(10) ? null : reader.GetInt32(10),
                    reader.IsDBNull(11) ? null : reader.GetInt32(11), NullableString(reader, 12), NullableString(reader, 13),
                    reader.GetFieldValue<DateTimeOffset>(14), NullableTime(reader, 15), NullableTime(reader, 16),
                    reader.GetInt32(17), NullableString(reader, 18), reader.GetInt32(19)));
            }
        }

        var byKind = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT kind, count(*) FROM events WHERE card_id = $1 GROUP BY kind ORDER BY kind", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                byKind[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var recent = new List<CardEvent>();
        await using (var command = new NpgsqlCommand(
            "SELECT id, kind, occurred_at, payload::text FROM events WHERE card_id = $1 ORDER BY id DESC LIMIT $2", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = RecentEvents });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                using var payload = JsonDocument.Parse(reader.GetString(3));
                recent.Add(new CardEvent(reader.GetInt64(0), id, reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), payload.RootElement.Clone()));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        recent.Reverse();
        var summary = new CardEventsSummary(byKind.Values.Sum(), recent.Count > 0 ? recent[^1].Id : null, byKind, recent);
        return new CardDetails(card, attempts, summary);
    }

    /// <summary>
    /// Cancels an unfinished card and publishes <c>card.cancelled</c> (<c>{from, to, reason}</c>); a finished one is a
    /// <see cref="CardStageConflictException"/>. The supervisor sees the stage on its next step and stops.
    /// </summary>
    public async Task<(Card Card, CardStage From)> CancelAsync(string id, string reason, CancellationToken cancellationToken)
    {
        if (!CardIds.IsWellFormed(id))
        {
            throw new CardNotFoundException(id);
        }

        Card? cancelled = null;
        var from = CardStage.Queued;
        await events.PublishAsync(id, EventKinds.CardCancelled, async (connection, transaction, token) =>
        {
            await using (var current = new NpgsqlCommand("SELECT stage FROM cards WHERE id = $1 FOR UPDATE", connection, transaction))
            {
                current.Parameters.Add(new NpgsqlParameter { Value = id });
                var stage = await current.ExecuteScalarAsync(token) as string ?? throw new CardNotFoundException(id);
                from = Enum.Parse<CardStage>(stage);
            }

            if (from.IsFinished())
            {
                throw new CardStageConflictException(id, from, "cancelled");
            }

            await using var update = new NpgsqlCommand($"""
                UPDATE cards SET stage = 'Cancelled', stage_changed_at = now(), updated_at = now(), finished_at = now(), result_reason = $2
                WHERE id = $1
                RETURNING {CardColumns}
                """, connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = id });
            update.Parameters.Add(new NpgsqlParameter { Value = reason });
            await using var reader = await update.ExecuteReaderAsync(token);
            await reader.ReadAsync(token);
            cancelled = ReadCard(reader);
            return new { From = from.ToString(), To = nameof(CardStage.Cancelled), Reason = reason };
        }, cancellationToken);

        return (cancelled!, from);
    }

    private static Card ReadCard(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.GetString(4),
        reader.GetString(5),
        reader.IsDBNull(6) ? null : NumericColumns.WithoutTrailingZeros(reader.GetDecimal(6)),
        Enum.Parse<CardStage>(reader.GetString(7)),
        reader.GetFieldValue<DateTimeOffset>(8),
        reader.GetFieldValue<DateTimeOffset>(9),
        reader.GetFieldValue<DateTimeOffset>(10),
        NullableTime(reader, 11),
        NullableString(reader, 12),
        NullableTime(reader, 13),
        NullableString(reader, 14),
        reader.IsDBNull(15) ? null : reader.GetInt32(15),
        NullableString(reader, 16));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableTime(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
