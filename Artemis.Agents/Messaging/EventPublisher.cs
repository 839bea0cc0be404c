using System.Text.Json;
using System.Threading.Channels;
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
/// Serialized publishers cannot share a commit (each commit waits for its WAL flush), so events published on their
/// own are queued and written by one writer in batches: one transaction, one flush and one Redis round trip for
/// all the events that arrived meanwhile.
/// </remarks>
public sealed class EventPublisher(
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    IOptions<MessagingOptions> options,
    ILogger<EventPublisher> logger) : IAsyncDisposable
{
    public const string StreamKey = "artemis:events";

    /// <summary>Pub/sub channel that wakes live readers after stream entries are added; carries the last event id.</summary>
    public static readonly RedisChannel SignalChannel = RedisChannel.Literal("artemis:events:signal");

    /// <summary>The advisory lock key of event publishing ("Artemis" and 1 in ASCII), one for the whole database.</summary>
    private const long PublishLockKey = 0x4172_7465_6D69_7301;

    /// <summary>Batches written under one hold of the publish lock before it is let go for others.</summary>
    private const int MaxBatchesPerHold = 8;

    private readonly int _maxLength = options.Value.StreamMaxLength;
    private readonly int _batchSize = options.Value.PublishBatchSize;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _writerGate = new();
    private Task? _writer;

    /// <summary>
    /// Stores and publishes one event; <paramref name="payload"/> is serialized as JSON (web defaults). Completes when
    /// the event is in Postgres and (unless Redis failed, which is logged) in the stream. Once queued, the event is
    /// published even if the caller stops waiting.
    /// </summary>
    public Task<CardEvent> PublishAsync(string? cardId, string kind, object payload, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(payload);
        var done = new TaskCompletionSource<CardEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        EnsureWriter();
        if (!_queue.Writer.TryWrite(new Pending(cardId, kind, ToJson(payload), done)))
        {
            throw new ObjectDisposedException(nameof(EventPublisher), "The service is stopping; the event was not published.");
        }

        return done.Task.WaitAsync(cancellationToken);
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

                stored = (await InsertAsync(connection, transaction, [new Pending(cardId, kind, ToJson(payload), null)], cancellationToken))[0];
                await transaction.CommitAsync(cancellationToken);
            }

            // Committed: the stream entry must follow whatever the caller's token says now.
            await AddToStreamAsync([stored]);
            return stored;
        }
        finally
        {
            // A pooled connection must never go back holding the lock; if this fails the connection is broken and
            // closing it releases the lock.
            await LockAsync(connection, "pg_advisory_unlock", CancellationToken.None);
        }
    }

    /// <summary>Publishes what is queued, then stops the writer (the host disposes singletons after it has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is { } writer)
        {
            await writer;
        }
    }

    private void EnsureWriter()
    {
        if (_writer is null)
        {
            lock (_writerGate)
            {
                _writer ??= Task.Run(WriteQueuedAsync);
            }
        }
    }

    /// <summary>
    /// The one writer of queued events. A burst is written as a run of batches on one connection under one hold of the
    /// publish lock (at most <see cref="MaxBatchesPerHold"/>, so transactional publishers, here or in another replica,
    /// get their turn), and each batch's stream write is in flight while the next batch is inserted: both go to Redis
    /// on one connection in the order they were sent, so the stream stays in id order.
    /// </summary>
    private async Task WriteQueuedAsync()
    {
        while (await _queue.Reader.WaitToReadAsync())
        {
            var batch = TakeBatch();
            if (batch.Count == 0)
            {
                continue;
            }

            NpgsqlConnection connection;
            try
            {
                // Not cancellable: publishers may have stopped waiting, but what they queued is published.
                connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
            }
            catch (Exception exception)
            {
                Fail(batch, exception);
                continue;
            }

            var inFlight = new List<Task>();
            await using (connection)
            {
                try
                {
                    await LockAsync(connection, "pg_advisory_lock", CancellationToken.None);
                }
                catch (Exception exception)
                {
                    Fail(batch, exception);
                    continue;
                }

                try
                {
                    for (var batches = 1; ; batches++)
                    {
                        try
                        {
                            IReadOnlyList<CardEvent> stored;
                            await using (var transaction = await connection.BeginTransactionAsync(CancellationToken.None))
                            {
                                stored = await InsertAsync(connection, transaction, batch, CancellationToken.None);
                                await transaction.CommitAsync(CancellationToken.None);
                            }

                            inFlight.Add(CompleteAfterStreamAsync(batch, stored));
                        }
                        catch (Exception exception)
                        {
                            // The batch is one transaction: none of it is stored, and every publisher in it hears why.
                            Fail(batch, exception);
                            break;
                        }

                        if (batches >= MaxBatchesPerHold || (batch = TakeBatch()).Count == 0)
                        {
                            break;
                        }
                    }
                }
                finally
                {
                    // The lock is held until every stream write of the run is done: the next holder's entries follow.
                    await Task.WhenAll(inFlight);
                    try
                    {
                        await LockAsync(connection, "pg_advisory_unlock", CancellationToken.None);
                    }
                    catch (NpgsqlException)
                    {
                        // The connection broke: closing it releases the lock.
                    }
                }
            }
        }
    }

    private List<Pending> TakeBatch()
    {
        var batch = new List<Pending>(_batchSize);
        while (batch.Count < _batchSize && _queue.Reader.TryRead(out var pending))
        {
            batch.Add(pending);
        }

        return batch;
    }

    private async Task CompleteAfterStreamAsync(List<Pending> batch, IReadOnlyList<CardEvent> stored)
    {
        await AddToStreamAsync(stored);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done!.TrySetResult(stored[i]);
        }
    }

    private static void Fail(List<Pending> batch, Exception exception)
    {
        foreach (var pending in batch)
        {
            pending.Done!.TrySetException(exception);
        }
    }

    private static async Task LockAsync(NpgsqlConnection connection, string function, CancellationToken cancellationToken)
    {
        // function is one of two fixed names, never input.
        await using var command = new NpgsqlCommand($"SELECT {function}($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = PublishLockKey });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<CardEvent>> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        // unnest yields the rows in array order and the identity values are drawn in that order, so the returned rows
        // line up with the batch.
        await using var command = new NpgsqlCommand("""
            INSERT INTO events (card_id, kind, payload)
            SELECT card_id, kind, payload::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS batch (card_id, kind, payload)
            RETURNING id, occurred_at
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(pending => pending.CardId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(pending => pending.Kind).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(pending => pending.Payload.GetRawText()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        var stored = new List<CardEvent>(batch.Count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var pending = batch[stored.Count];
            stored.Add(new CardEvent(reader.GetInt64(0), pending.CardId, pending.Kind, reader.GetFieldValue<DateTimeOffset>(1), pending.Payload));
        }

        return stored;
    }

    private async Task AddToStreamAsync(IReadOnlyList<CardEvent> stored)
    {
        try
        {
            // One script for the whole batch: its entries in order, then the signal, so a reader woken by the signal
            // finds them. One command instead of one XADD per event: at thousands of events a second the per-command
            // cost (a reply, a task, a round of parsing on each side) was most of a batch's time in the stream.
            var values = new RedisValue[3 + stored.Count * EventStreamEntry.FieldCount];
            values[0] = _maxLength;
            values[1] = SignalChannel.ToString();
            values[2] = stored[^1].Id;
            var at = 3;
            foreach (var item in stored)
            {
                foreach (var field in EventStreamEntry.ToFields(item))
                {
                    values[at++] = field.Value;
                }
            }

            await redis.GetDatabase().ScriptEvaluateAsync(AddBatchScript, [StreamKey], values);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The events are stored; live readers that miss them here get them from Postgres when they next catch up.
            MessagingLog.StreamAddFailed(logger, stored[0].Id, stored[^1].Id, exception);
        }
    }

    /// <summary>
    /// XADD of each entry, trimmed approximately to MAXLEN as before, then PUBLISH of the last id on the signal
    /// channel. ARGV: MAXLEN, the channel, the last event id, then the entries' field values in
    /// <see cref="EventStreamEntry.Names"/> order.
    /// </summary>
    private static readonly string AddBatchScript = $$"""
        local names = { {{string.Join(", ", EventStreamEntry.Names.Select(name => $"'{name}'"))}} }
        local width = #names
        local entry = {}
        for i = 4, #ARGV, width do
          for f = 1, width do
            entry[2 * f - 1] = names[f]
            entry[2 * f] = ARGV[i + f - 1]
          end
          redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(entry))
        end
        return redis.call('PUBLISH', ARGV[2], ARGV[3])
        """;

    private static JsonElement ToJson(object payload) =>
        payload is JsonElement element ? element : JsonSerializer.SerializeToElement(payload, payload.GetType(), JsonSerializerOptions.Web);

    /// <summary>A queued event; <see cref="Done"/> is null for one published inside a caller's transaction.</summary>
    private sealed record Pending(string? CardId, string Kind, JsonElement Payload, TaskCompletionSource<CardEvent>? Done);
}
