using System.Globalization;
using StackExchange.Redis;

namespace Artemis.Agents.Costs;

/// <summary>
/// Budgets enforced before money is spent, atomically across every budget of a call and every replica: one Lua
/// script per step on Redis. Amounts are whole nano-dollars (exact for catalog prices, rounded up otherwise).
/// <list type="bullet">
/// <item><c>Reserve</c>: if every window has room for spent + reserved + the call's worst case, reserve it in all of
/// them at once, else refuse (<see cref="BudgetExceededException"/>). Reservations carry an expiry so one left by a
/// killed process is swept back by later calls.</item>
/// <item><c>Settle</c>: release the reservation and add the actual cost, once per call id (a settled marker), so a
/// replay of the ledger after a crash can never count a call twice.</item>
/// </list>
/// </summary>
public sealed class BudgetGuard(IConnectionMultiplexer redis, BudgetOptions options)
{
    private const string Reservations = BudgetWindows.KeyPrefix + "reservations";
    private const string ReservationPrefix = BudgetWindows.KeyPrefix + "reservation:";
    private const string SettledPrefix = BudgetWindows.KeyPrefix + "settled:";
    private const string AlertPrefix = BudgetWindows.KeyPrefix + "alert:";

    /// <summary>A settled marker outlives the longest window (a month) so ledger replays stay idempotent.</summary>
    private static readonly TimeSpan SettledMarkerLifetime = TimeSpan.FromDays(40);

    // KEYS[1] reservations zset, KEYS[2] this reservation, KEYS[3..] windows.
    // ARGV[1] amount, ARGV[2] now (ms), ARGV[3] expiry (ms), ARGV[4..] limits. Returns {0} or {index, spent, reserved}.
    private const string ReserveScript = """
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 16)
        for _, id in ipairs(expired) do
          local key = KEYS[2]:gsub('[^:]+$', id)
          local entry = redis.call('HGETALL', key)
          if #entry > 0 then
            local amount = 0
            for j = 1, #entry, 2 do if entry[j] == 'amount' then amount = tonumber(entry[j + 1]) end end
            for j = 1, #entry, 2 do
              if entry[j] ~= 'amount' then redis.call('HINCRBY', entry[j], 'reserved', -amount) end
            end
            redis.call('DEL', key)
          end
          redis.call('ZREM', KEYS[1], id)
        end
        local amount = tonumber(ARGV[1])
        for i = 3, #KEYS do
          local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
          local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
          if spent + reserved + amount > tonumber(ARGV[i + 1]) then return {i - 2, spent, reserved} end
        end
        for i = 3, #KEYS do
          redis.call('HINCRBY', KEYS[i], 'reserved', amount)
          redis.call('HSET', KEYS[2], KEYS[i], 1)
        end
        redis.call('HSET', KEYS[2], 'amount', amount)
        redis.call('ZADD', KEYS[1], ARGV[3], KEYS[2]:match('[^:]+$'))
        return {0}
        """;

    // KEYS[1] reservations zset, KEYS[2] this reservation, KEYS[3] settled marker, KEYS[4..] windows.
    // ARGV[1] actual amount, ARGV[2] call id, ARGV[3] marker lifetime (ms). Returns 1 when counted now, 0 when already.
    private const string SettleScript = """
        local entry = redis.call('HGETALL', KEYS[2])
        if #entry > 0 then
          local amount = 0
          for j = 1, #entry, 2 do if entry[j] == 'amount' then amount = tonumber(entry[j + 1]) end end
          for j = 1, #entry, 2 do
            if entry[j] ~= 'amount' then redis.call('HINCRBY', entry[j], 'reserved', -amount) end
          end
          redis.call('DEL', KEYS[2])
          redis.call('ZREM', KEYS[1], ARGV[2])
        end
        if tonumber(ARGV[1]) == 0 then return 0 end
        if redis.call('SET', KEYS[3], 1, 'NX', 'PX', ARGV[3]) == false then return 0 end
        for i = 4, #KEYS do redis.call('HINCRBY', KEYS[i], 'spent', ARGV[1]) end
        return 1
        """;

    public static long ToNanoDollars(decimal usd) => (long)decimal.Ceiling(usd * 1_000_000_000m);

    public static decimal ToUsd(long nanoDollars) => nanoDollars / 1_000_000_000m;

    /// <summary>Reserves the worst case in every window, or throws before anything is spent.</summary>
    public async Task ReserveAsync(string callId, IReadOnlyList<BudgetWindow> windows, decimal worstCaseUsd, TimeSpan lifetime)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var amount = ToNanoDollars(worstCaseUsd);
        RedisKey[] keys = [Reservations, ReservationPrefix + callId, .. windows.Select(window => (RedisKey)window.Key)];
        RedisValue[] values =
        [
            amount, now, now + (long)lifetime.TotalMilliseconds,
            .. windows.Select(window => (RedisValue)ToNanoDollars(window.LimitUsd)),
        ];
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, values))!;
        var refused = (int)result[0];
        if (refused > 0)
        {
            throw new BudgetExceededException(windows[refused - 1], ToUsd((long)result[1]), ToUsd((long)result[2]), worstCaseUsd);
        }
    }

    /// <summary>Releases the reservation and counts the actual cost once; false when this call was already counted.</summary>
    public async Task<bool> SettleAsync(string callId, IReadOnlyList<BudgetWindow> windows, decimal actualUsd)
    {
        RedisKey[] keys = [Reservations, ReservationPrefix + callId, SettledPrefix + callId, .. windows.Select(window => (RedisKey)window.Key)];
        RedisValue[] values = [ToNanoDollars(actualUsd), callId, (long)SettledMarkerLifetime.TotalMilliseconds];
        return (int)(await redis.GetDatabase().ScriptEvaluateAsync(SettleScript, keys, values)) == 1;
    }

    /// <summary>Releases the reservation of a call that was never billed (refused by the model, cancelled).</summary>
    public Task ReleaseAsync(string callId, IReadOnlyList<BudgetWindow> windows) => SettleAsync(callId, windows, 0m);

    public async Task<BudgetState> StateAsync(BudgetWindow window)
    {
        var fields = await redis.GetDatabase().HashGetAsync(window.Key, ["spent", "reserved"]);
        return new BudgetState(window.Name, window.LimitUsd, ToUsd((long)(fields[0].IsNull ? 0 : fields[0])), ToUsd((long)(fields[1].IsNull ? 0 : fields[1])));
    }

    /// <summary>True exactly once per window, the first time its spending reaches the alert threshold.</summary>
    public async Task<bool> CrossedAlertThresholdAsync(BudgetWindow window)
    {
        var state = await StateAsync(window);
        if (state.SpentUsd < window.LimitUsd * (decimal)options.AlertThreshold)
        {
            return false;
        }

        return await redis.GetDatabase().StringSetAsync(
            AlertPrefix + window.Key[BudgetWindows.KeyPrefix.Length..] + ":" + options.AlertThreshold.ToString(CultureInfo.InvariantCulture),
            1, SettledMarkerLifetime, When.NotExists);
    }
}

public sealed record BudgetState(string Window, decimal LimitUsd, decimal SpentUsd, decimal ReservedUsd);
