using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Artemis.Agents.Voice;

/// <summary>
/// Single-use, short-lived tickets for opening <c>/api/voice</c> from a browser, which cannot set the
/// <c>X-Api-Key</c> header on a WebSocket: a server that holds the key (Artemis.Web) asks for a ticket and hands
/// the browser <c>/api/voice?ticket=…</c>. The API key itself never reaches the browser, and a ticket that leaks
/// through a URL log is spent or expired. Kept in Redis (hashed), so any replica can redeem it.
/// </summary>
public sealed class VoiceTickets(IConnectionMultiplexer redis, VoiceOptions options)
{
    private const string KeyPrefix = "artemis:voice:ticket:";

    public TimeSpan Lifetime => TimeSpan.FromSeconds(options.TicketLifetimeSeconds);

    public async Task<string> IssueAsync()
    {
        var ticket = Base64Url(RandomNumberGenerator.GetBytes(32));
        await redis.GetDatabase().StringSetAsync(Key(ticket), 1, Lifetime, When.NotExists);
        return ticket;
    }

    /// <summary>True once per issued ticket within its lifetime.</summary>
    public async Task<bool> RedeemAsync(string? ticket)
    {
        if (string.IsNullOrEmpty(ticket) || ticket.Length > 128)
        {
            return false;
        }

        return !(await redis.GetDatabase().StringGetDeleteAsync(Key(ticket))).IsNull;
    }

    private static string Key(string ticket) => KeyPrefix + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ticket)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
