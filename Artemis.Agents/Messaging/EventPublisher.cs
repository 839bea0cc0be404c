using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>
/// Publishes events: each is stored in the <c>events</c> table (the source of truth, whose id orders events) and then
/// added to the Redis stream <see cref="StreamKey"/> with that id, and live readers are signalled.
/// </summary>
/// <remarks>
/// Publishers are serialized across every replica by a Postgres advisory lock held from the insert until the stream
/// entry is written. Without it two publishers could commit ids 5 and 6 and reach Redis as 6 then 5, and a reader
/// resuming "after 6" would never see 5. With it, id order, commit order and stream order are one order, which is
/// what lets a reader switch from Postgres to the stream (and back) without gaps or duplicates.
/// </remarks>
public sealed class EventPublisher(
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    IOptions<MessagingOptions> options,
    ILogger<EventPublisher> logger)
{
    public const string StreamKey = "artemis:events";

    /// <summary>Pub/sub channel that wakes live readers after each stream entry; carries the event id.</summary>
    public static readonly RedisChannel SignalChannel = RedisChannel.Literal("artemis:events:signal");

    /// <summary>The advisory lock key of event publishing ("Artemis" and 1 in ASCII), one for the whole database.</summary>
    private const long PublishLockKey = 0x4172_7465_6D69_7301;

    private readonly int _maxLength = options.Value.StreamMaxLength;

    /// <summary>Stores and publishes one event; <paramref name="payload"/> is serialized as JSON (web defaults).</summary>
    public async Task<CardEvent> PublishAsync(string? cardId, string kind, object payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var published = await PublishAsync(cardId, kind, (_, _, _) => Task.FromResult<object?>(payload), cancellationToken);
        return published!;
    }

    /// <summary>
    /// Runs <paramref name="change"/> and stores the event in one transaction, so the event exists exactly when the
    /// change does; then publishes it. When <paramref name="change"/> returns null the transaction is rolled back,
    /// nothing is published, and the result is null; when it throws, nothing is stored either.
    /// </summary>
    public async Task<CardEvent?> PublishAsync(
        string? cardId,
        string kind,
        Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task<object?>> change,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(change);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await LockAsync(connection, "pg_advisory_lock", cancellationToken);
        try
        {
            CardEvent stored;
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                var payload = await change(connection, transaction, cancellationToken);
                if (payload is null)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return null;
                }

                stored = await InsertAsync(connection, transaction, cardId, kind, payload, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            // Committed: the stream entry must follow whatever the caller's token says now.
            await AddToStreamAsync(stored);
            return stored;
        }
        finally
        {
            // A pooled connection must never go back holding the lock; if this fails the connection is broken and
            // closing it releases the lock.
            await LockAsync(connection, "pg_advisory_unlock", CancellationToken.None);
        }
    }

    private static async Task LockAsync(NpgsqlConnection connection, string function, CancellationToken cancellationToken)
    {
        // function is one of two fixed names, never input.
        await using var command = new NpgsqlCommand($"SELECT {function}($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = PublishLockKey });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<CardEvent> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string? cardId, string kind, object payload, CancellationToken cancellationToken)
    {
        var json = payload is JsonElement element ? element : JsonSerializer.SerializeToElement(payload, payload.GetType(), JsonSerializerOptions.Web);
        await using var command = new NpgsqlCommand(
            "INSERT INTO events (card_id, kind, payload) VALUES ($1, $2, $3::jsonb) RETURNING id, occurred_at", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)cardId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = kind });
        command.Parameters.Add(new NpgsqlParameter { Value = json.GetRawText() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new CardEvent(reader.GetInt64(0), cardId, kind, reader.GetFieldValue<DateTimeOffset>(1), json);
    }

    private async Task AddToStreamAsync(CardEvent stored)
    {
        try
        {
            var database = redis.GetDatabase();
            // Both go out on the same connection in this order: a reader woken by the signal finds the entry.
            var add = database.StreamAddAsync(StreamKey, EventStreamEntry.ToFields(stored), maxLength: _maxLength, useApproximateMaxLength: true);
            var signal = database.PublishAsync(SignalChannel, stored.Id);
            await Task.WhenAll(add, signal);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The event is stored; live readers that miss it here get it from Postgres when they next catch up.
            MessagingLog.StreamAddFailed(logger, stored.Id, stored.Kind, exception);
        }
    }
}
