using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Artemis.Agents.Messaging;

/// <summary>
/// Reads events: what is stored (Postgres) and what is published from now on (the Redis stream), as one ordered
/// sequence without gaps or duplicates, for one card or for all.
/// </summary>
public sealed class EventReader(
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    EventSignal signal,
    IOptions<MessagingOptions> options,
    ILogger<EventReader> logger)
{
    private static readonly RedisValue StreamStart = "0-0";

    private readonly TimeSpan _poll = TimeSpan.FromMilliseconds(options.Value.PollMilliseconds);

    // Below half the stream's length: a reader the trimming overtook always gets a full batch, and so catches up
    // from Postgres instead of silently skipping what was trimmed.
    private readonly int _batch = Math.Max(1, Math.Min(options.Value.ReadBatchSize, options.Value.StreamMaxLength / 2));

    /// <summary>Stored events with an id above <paramref name="after"/>, in id order, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<CardEvent>> StoredAsync(string? cardId, long after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(cardId is null
            ? "SELECT id, card_id, kind, occurred_at, payload::text FROM events WHERE id > $1 ORDER BY id LIMIT $2"
            : "SELECT id, card_id, kind, occurred_at, payload::text FROM events WHERE card_id = $3 AND id > $1 ORDER BY id LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        if (cardId is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = cardId, NpgsqlDbType = NpgsqlDbType.Text });
        }

        var events = new List<CardEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var payload = JsonDocument.Parse(reader.GetString(4));
            events.Add(new CardEvent(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3),
                payload.RootElement.Clone()));
        }

        return events;
    }

    /// <summary>The id of the newest stored event (0 when there is none).</summary>
    public async Task<long> NewestIdAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(max(id), 0) FROM events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The id just before the newest <paramref name="count"/> stored events: reading after it gives those events.</summary>
    public async Task<long> BeforeNewestAsync(int count, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(min(id) - 1, 0) FROM (SELECT id FROM events ORDER BY id DESC LIMIT $1) AS newest");
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        return Math.Max(0, (long)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    /// <summary>
    /// Every event after <paramref name="after"/> (0: from the start), first the stored ones, then live ones as they
    /// are published, until <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    /// <remarks>
    /// The stream position is taken before each read from Postgres. An event committed before that read is delivered
    /// from Postgres and skipped in the stream (its id is not above <paramref name="after"/>); one committed later is
    /// in the stream after the position. Publishers are serialized (<see cref="EventPublisher"/>), so stream order is
    /// id order and "id above the last delivered one" is all the deduplication needed.
    /// </remarks>
    public async IAsyncEnumerable<CardEvent> FollowAsync(string? cardId, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            // Catch up from Postgres.
            RedisValue? position;
            IReadOnlyList<CardEvent> stored;
            do
            {
                position = await StreamTopAsync();
                stored = await StoredAsync(cardId, after, _batch, cancellationToken);
                foreach (var item in stored)
                {
                    after = item.Id;
                    yield return item;
                }
            }
            while (stored.Count == _batch);

            // Follow the stream until it fails or this reader falls behind it.
            while (position is { } from && !cancellationToken.IsCancellationRequested)
            {
                var wake = await signal.NextAsync(cancellationToken);
                var entries = await ReadStreamAsync(from);
                if (entries is null || (entries.Length == _batch && !await StillInStreamAsync(from)))
                {
                    if (entries is not null)
                    {
                        MessagingLog.ReaderCatchingUp(logger, after);
                    }

                    break;
                }

                foreach (var entry in entries)
                {
                    position = entry.Id;
                    // A card's reader skips other cards' entries before parsing their payload: every reader reads the
                    // one stream of all cards.
                    if ((cardId is null || EventStreamEntry.IsOfCard(entry, cardId))
                        && EventStreamEntry.Parse(entry) is { } item && item.Id > after)
                    {
                        after = item.Id;
                        yield return item;
                    }
                }

                if (entries.Length == 0)
                {
                    await WaitAsync(wake, cancellationToken);
                }
            }

            if (position is null)
            {
                // Redis is unreachable: poll Postgres until it is back.
                await PauseAsync(cancellationToken);
            }
        }
    }

    private async Task PauseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(_poll, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The reader is done; the caller's loop ends on the token.
        }
    }

    private async Task WaitAsync(Task wake, CancellationToken cancellationToken)
    {
        try
        {
            await wake.WaitAsync(_poll, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Time to look again, signal or not.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The reader is done; the caller's loop ends on the token.
        }
    }

    /// <summary>
    /// Whether the stream still holds every entry after <paramref name="position"/>, asked after a read that filled a
    /// batch. A full batch alone does not mean entries were trimmed: one publish batch can be as large as a read
    /// batch, and going back to Postgres for each would make a busy stream slower to follow the busier it is.
    /// Trimming removes the oldest entries first and the oldest id only grows, so an oldest entry at or before
    /// <paramref name="position"/> now means nothing after it had been trimmed when the batch was read.
    /// </summary>
    private async Task<bool> StillInStreamAsync(RedisValue position)
    {
        try
        {
            var oldest = await redis.GetDatabase().StreamRangeAsync(EventPublisher.StreamKey, "-", "+", count: 1);
            return oldest.Length == 1 && StreamIdOrder(oldest[0].Id, position) <= 0;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            MessagingLog.StreamReadFailed(logger, exception);
            return false;
        }
    }

    /// <summary>Compares stream entry ids ("milliseconds-sequence") as Redis orders them.</summary>
    private static int StreamIdOrder(RedisValue a, RedisValue b)
    {
        static (ulong Ms, ulong Seq) Split(RedisValue id)
        {
            var text = ((string?)id ?? "0-0").AsSpan();
            var dash = text.IndexOf('-');
            return dash < 0
                ? (ulong.Parse(text, CultureInfo.InvariantCulture), 0)
                : (ulong.Parse(text[..dash], CultureInfo.InvariantCulture), ulong.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture));
        }

        return Split(a).CompareTo(Split(b));
    }

    /// <summary>The id of the newest stream entry ("0-0" when empty); null when Redis cannot be read.</summary>
    private async Task<RedisValue?> StreamTopAsync()
    {
        try
        {
            var newest = await redis.GetDatabase().StreamRangeAsync(EventPublisher.StreamKey, "-", "+", count: 1, messageOrder: Order.Descending);
            return newest.Length == 0 ? StreamStart : newest[0].Id;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            MessagingLog.StreamReadFailed(logger, exception);
            return null;
        }
    }

    private async Task<StreamEntry[]?> ReadStreamAsync(RedisValue after)
    {
        try
        {
            // "(" makes the start exclusive (Redis 6.2+): entries strictly after the last one seen.
            return await redis.GetDatabase().StreamRangeAsync(EventPublisher.StreamKey, "(" + after, "+", count: _batch);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            MessagingLog.StreamReadFailed(logger, exception);
            return null;
        }
    }
}
