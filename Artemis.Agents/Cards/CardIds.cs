using System.Security.Cryptography;

namespace Artemis.Agents.Cards;

/// <summary>
/// Card ids: 12 characters of lower-case Crockford base32 (60 random bits): short enough to read and type, safe in a
/// URL and a file name, and unique in practice; the insert still retries on the rare collision.
/// </summary>
public static class CardIds
{
    public const int Length = 12;

    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New() => RandomNumberGenerator.GetString(Alphabet, Length);

    /// <summary>Whether <paramref name="id"/> could be a card id; anything else is answered 404 without a query.</summary>
    public static bool IsWellFormed(string? id) =>
        id is { Length: >= 4 and <= 32 } && id.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c));
}
