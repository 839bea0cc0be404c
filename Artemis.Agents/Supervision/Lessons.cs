using System.Text.RegularExpressions;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>
/// A short lesson per finished card, stored with the card's last step and found again by Postgres full-text search
/// (<c>lessons.search</c>, a generated tsvector) when a later card is planned.
/// </summary>
public sealed partial class Lessons(NpgsqlDataSource dataSource)
{
    public const int MaxWords = 24;

    /// <summary>Stores the lesson of a finished card inside the caller's transaction (once: a card has one lesson).</summary>
    public static async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string cardId, string outcome, string lesson, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO lessons (card_id, outcome, lesson) VALUES ($1, $2, $3)
            ON CONFLICT (card_id) DO NOTHING
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = cardId });
        command.Parameters.Add(new NpgsqlParameter { Value = outcome });
        command.Parameters.Add(new NpgsqlParameter { Value = lesson.Length <= 4000 ? lesson : lesson[..3999] + "…" });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The lessons most relevant to <paramref name="text"/> (any of its words, ranked by <c>ts_rank</c>), newest
    /// first among equals; never the card's own.
    /// </summary>
    public async Task<IReadOnlyList<string>> RelevantAsync(string text, string exceptCardId, int limit, CancellationToken cancellationToken)
    {
        // Words only (letters and digits), joined with OR: what the user typed never reaches to_tsquery's syntax.
        var words = Word().Matches(text).Select(match => match.Value.ToLowerInvariant()).Distinct().Take(MaxWords).ToList();
        if (words.Count == 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand("""
            SELECT lesson FROM lessons, to_tsquery('english', $1) AS query
            WHERE search @@ query AND card_id <> $2
            ORDER BY ts_rank(search, query) DESC, created_at DESC
            LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = string.Join(" | ", words) });
        command.Parameters.Add(new NpgsqlParameter { Value = exceptCardId });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var lessons = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lessons.Add(reader.GetString(0));
        }

        return lessons;
    }

    [GeneratedRegex(@"[\p{L}\p{Nd}]{3,40}")]
    private static partial Regex Word();
}
