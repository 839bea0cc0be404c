using Artemis.Agents.Cards;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>A replica's claim on a card: the owner and the generation the claim drew (the fencing token).</summary>
public sealed record CardLease(string CardId, string Owner, long Generation)
{
    /// <summary>When this replica last saw the lease was its own: at the claim, and at each renewal since.</summary>
    public LeaseClock Clock { get; } = new();
}

/// <summary>
/// The time since a lease was last confirmed. A replica that stalled (a long GC pause, a stopped process) cannot know
/// it lost its lease until it asks, but it can know it has not asked for too long.
/// </summary>
public sealed class LeaseClock
{
    private long _confirmed = System.Diagnostics.Stopwatch.GetTimestamp();

    public TimeSpan SinceConfirmed => System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref _confirmed));

    public void Confirm() => Volatile.Write(ref _confirmed, System.Diagnostics.Stopwatch.GetTimestamp());
}

/// <summary>What renewing a lease found.</summary>
public enum LeaseState
{
    /// <summary>Still ours, extended.</summary>
    Held,

    /// <summary>Another replica took the card over (our lease lapsed): stop at once and write nothing more.</summary>
    Lost,

    /// <summary>Still ours, but the card finished meanwhile (cancelled by a person): stop its work.</summary>
    Finished,

    /// <summary>
    /// The card is finished and nobody holds it: its holder's last write finished it and cleared the lease with it
    /// (a renewal racing that write sees this). Nothing to stop; an agent still asking is refused like a lost lease.
    /// </summary>
    Closed,
}

/// <summary>This replica no longer holds the card, or the card left the stage the work was for; nothing was written.</summary>
public sealed class CardWorkStoppedException(string cardId, string why) : Exception($"Card '{cardId}': {why}")
{
    public string CardId { get; } = cardId;
}

/// <summary>
/// Leases on cards in Postgres. A claim takes the oldest unfinished card whose lease is free or lapsed
/// (<c>FOR UPDATE SKIP LOCKED</c>: replicas claiming at once take different cards) and bumps its generation; every
/// later write by the holder is fenced on owner and generation, so a replica that stalled past its lease and woke up
/// can no longer change a card another replica has taken over.
/// </summary>
public sealed class CardLeases(NpgsqlDataSource dataSource, IOptions<AgentsOptions> options)
{
    private readonly double _seconds = options.Value.LeaseSeconds;

    /// <summary>Claims the next card for <paramref name="owner"/>; null when there is none to take.</summary>
    public async Task<CardLease?> ClaimAsync(string owner, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH next AS (
                SELECT id FROM cards
                WHERE stage IN ('Queued', 'Planning', 'Developing', 'Arbitrating')
                  AND (lease_expires_at IS NULL OR lease_expires_at < now())
                ORDER BY lease_expires_at NULLS FIRST, created_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            UPDATE cards SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
                             lease_generation = cards.lease_generation + 1, updated_at = now()
            FROM next WHERE cards.id = next.id
            RETURNING cards.id, cards.lease_generation
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = owner });
        command.Parameters.Add(new NpgsqlParameter { Value = _seconds });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new CardLease(reader.GetString(0), owner, reader.GetInt64(1)) : null;
    }

    /// <summary>Extends the lease when it is still ours; says whether it is, and whether the card is still unfinished.</summary>
    public async Task<LeaseState> RenewAsync(CardLease lease, CancellationToken cancellationToken)
    {
        // The card's row as it was, beside the renewal: a lease that is gone is told apart from a card its holder has
        // just finished (the last write clears the lease with it), which a renewal can race.
        await using var command = dataSource.CreateCommand("""
            WITH renewed AS (
                UPDATE cards SET lease_expires_at = now() + make_interval(secs => $4)
                WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3
                RETURNING stage)
            SELECT (SELECT stage FROM renewed), stage, lease_owner IS NULL FROM cards WHERE id = $1
            """);
        AddLease(command.Parameters, lease);
        command.Parameters.Add(new NpgsqlParameter { Value = _seconds });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        LeaseState state;
        if (!await reader.ReadAsync(cancellationToken))
        {
            state = LeaseState.Lost;
        }
        else if (!await reader.IsDBNullAsync(0, cancellationToken))
        {
            state = Enum.Parse<CardStage>(reader.GetString(0)).IsFinished() ? LeaseState.Finished : LeaseState.Held;
        }
        else
        {
            state = Enum.Parse<CardStage>(reader.GetString(1)).IsFinished() && reader.GetBoolean(2) ? LeaseState.Closed : LeaseState.Lost;
        }

        if (state == LeaseState.Held)
        {
            lease.Clock.Confirm();
        }

        return state;
    }

    /// <summary>
    /// Before an agent acts on its folder (a tool call): when the lease has not been confirmed for half its length —
    /// the renewal runs every third, so only a replica that stalled gets here — it is renewed now, and a lease lost
    /// or a card finished meanwhile throws <see cref="CardWorkStoppedException"/> before anything is done. Database
    /// writes are fenced anyway; this keeps a stale replica's agent from writing files one more time.
    /// </summary>
    public async Task EnsureHeldAsync(CardLease lease, CancellationToken cancellationToken)
    {
        if (lease.Clock.SinceConfirmed < TimeSpan.FromSeconds(_seconds / 2))
        {
            return;
        }

        var state = await RenewAsync(lease, cancellationToken);
        if (state != LeaseState.Held)
        {
            throw new CardWorkStoppedException(lease.CardId, state == LeaseState.Lost
                ? $"this replica's lease (generation {lease.Generation}) was taken over"
                : "the card finished");
        }
    }

    /// <summary>Gives the card back (finished, or this replica is stopping): another replica may claim it at once.</summary>
    public async Task ReleaseAsync(CardLease lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE cards SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
            WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3
            """);
        AddLease(command.Parameters, lease);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Inside a transaction: locks the card's row, checks the lease is still ours, and returns its stage; throws
    /// <see cref="CardWorkStoppedException"/> (the caller's transaction then rolls back) when it is not.
    /// </summary>
    public static async Task<CardStage> LockHeldAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CardLease lease, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT stage FROM cards WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3 FOR UPDATE
            """, connection, transaction);
        AddLease(command.Parameters, lease);
        var stage = await command.ExecuteScalarAsync(cancellationToken) as string
            ?? throw new CardWorkStoppedException(lease.CardId, $"this replica's lease (generation {lease.Generation}) was taken over");
        return Enum.Parse<CardStage>(stage);
    }

    /// <summary>Runs <paramref name="write"/> in a transaction only while the lease is ours and the card unfinished.</summary>
    public async Task WriteFencedAsync(CardLease lease, Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var stage = await LockHeldAsync(connection, transaction, lease, cancellationToken);
        if (stage.IsFinished())
        {
            throw new CardWorkStoppedException(lease.CardId, $"the card is {stage}");
        }

        await write(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static void AddLease(NpgsqlParameterCollection parameters, CardLease lease)
    {
        parameters.Add(new NpgsqlParameter { Value = lease.CardId });
        parameters.Add(new NpgsqlParameter { Value = lease.Owner });
        parameters.Add(new NpgsqlParameter { Value = lease.Generation });
    }
}
