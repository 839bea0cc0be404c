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
/// replay of the ledger after a crash can never count a call twice; in the same step queue the call's ledger entry
/// and note each window that reached its alert threshold for the first time.</item>
/// </list>
/// </summary>
public sealed class BudgetGuard(IConnectionMultiplexer redis, BudgetOptions options)
{
    internal const string Reservations = BudgetWindows.KeyPrefix + "reservations";
    internal const string ReservationPrefix = BudgetWindows.KeyPrefix + "reservation:";
    internal const string SettledPrefix = BudgetWindows.KeyPrefix + "settled:";
    private const string AlertPrefix = BudgetWindows.KeyPrefix + "alert:";

    /// <summary>A settled marker outlives the longest window (a month) so ledger replays stay idempotent.</summary>
    internal static readonly TimeSpan SettledMarkerLifetime = TimeSpan.FromDays(40);

    /// <summary>
    /// Lua shared by every budget script. A reservation is a hash: a call's has <c>amount</c> and one field per window
    /// (set to 1), a replica's lease (<see cref="BudgetLeases"/>) one field per window holding that window's amount.
    /// <c>release</c> gives a reservation of either shape back to its windows; <c>sweep</c> releases up to 16 whose
    /// expiry (the score in the reservations zset) has passed: those of a killed process.
    /// </summary>
    internal const string SweepFunctions = """
        local function release(key)
          local entry = redis.call('HGETALL', key)
          local amount = nil
          for j = 1, #entry, 2 do if entry[j] == 'amount' then amount = tonumber(entry[j + 1]) end end
          for j = 1, #entry, 2 do
            if entry[j] ~= 'amount' then redis.call('HINCRBY', entry[j], 'reserved', -(amount or tonumber(entry[j + 1]))) end
          end
          redis.call('DEL', key)
        end
        local function sweep(zset, sibling, now)
          for _, id in ipairs(redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 16)) do
            release((sibling:gsub('[^:]+$', id)))
            redis.call('ZREM', zset, id)
          end
        end

        """;

    // KEYS[1] reservations zset, KEYS[2] this reservation, KEYS[3..] windows.
    // ARGV[1] amount, ARGV[2] now (ms), ARGV[3] expiry (ms), ARGV[4..] limits. Returns {0} or {index, spent, reserved}.
    private const string ReserveScript = SweepFunctions + """
        sweep(KEYS[1], KEYS[2], ARGV[2])
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

    // KEYS[1] reservations zset, KEYS[2] this reservation, KEYS[3] settled marker, KEYS[4] pending ledger stream,
    // KEYS[5..4+n] windows, KEYS[5+n..4+2n] their alert markers. ARGV[1] actual amount, ARGV[2] call id, ARGV[3] marker
    // lifetime (ms), ARGV[4] 'release' | 'count' | a ledger entry (JSON), ARGV[5..4+n] each window's alert amount.
    // Returns {0} when nothing was counted now, else {1, i…} with the index of each window that crossed its alert
    // amount for the first time.
    private const string SettleScript = SweepFunctions + """
        release(KEYS[2])
        redis.call('ZREM', KEYS[1], ARGV[2])
        if ARGV[4] == 'release' then return {0} end
        if redis.call('SET', KEYS[3], 1, 'NX', 'PX', ARGV[3]) == false then return {0} end
        if ARGV[4] ~= 'count' then redis.call('XADD', KEYS[4], '*', 'entry', ARGV[4]) end
        local n = (#KEYS - 4) / 2
        local result = {1}
        for i = 1, n do
          local spent = redis.call('HINCRBY', KEYS[4 + i], 'spent', ARGV[1])
          if spent >= tonumber(ARGV[4 + i]) and redis.call('SET', KEYS[4 + n + i], 1, 'NX', 'PX', ARGV[3]) then
            result[#result + 1] = i
          end
        end
        return result
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

    /// <summary>
    /// Releases the reservation and counts the actual cost once per call id. With a ledger entry, the entry is queued
    /// for the ledger in the same atomic step (<see cref="CostLedger"/> moves it to PostgreSQL), so a call is either
    /// counted and on its way to the ledger, or neither. Without one (a replay of the ledger) it is only counted.
    /// </summary>
    public Task<Settlement> SettleAsync(string callId, IReadOnlyList<BudgetWindow> windows, decimal actualUsd, LedgerEntry? entry = null) =>
        RunSettleAsync(callId, windows, actualUsd, entry?.ToJson() ?? "count");

    /// <summary>Releases the reservation of a call that was never billed (refused by the model, cancelled).</summary>
    public Task ReleaseAsync(string callId, IReadOnlyList<BudgetWindow> windows) => RunSettleAsync(callId, windows, 0m, "release");

    private async Task<Settlement> RunSettleAsync(string callId, IReadOnlyList<BudgetWindow> windows, decimal actualUsd, string mode)
    {
        RedisKey[] keys =
        [
            Reservations, ReservationPrefix + callId, SettledPrefix + callId, CostLedger.PendingStream,
            .. windows.Select(window => (RedisKey)window.Key),
            .. windows.Select(AlertMarker),
        ];
        RedisValue[] values =
        [
            ToNanoDollars(actualUsd), callId, (long)SettledMarkerLifetime.TotalMilliseconds, mode,
            .. windows.Select(window => (RedisValue)AlertAmount(window)),
        ];
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(SettleScript, keys, values))!;
        if ((int)result[0] == 0)
        {
            return Settlement.NotCounted;
        }

        return new Settlement(true, result.Skip(1).Select(index => windows[(int)index - 1]).ToList());
    }

    // KEYS: per call its settled marker, then its windows. ARGV[1] marker lifetime (ms), then per call: its number of
    // windows and its cost (nano-dollars). Returns how many calls were counted now (the others had been counted before).
    private const string ReplayScript = """
        local k, counted = 1, 0
        for a = 2, #ARGV, 2 do
          local n = tonumber(ARGV[a])
          if redis.call('SET', KEYS[k], 1, 'NX', 'PX', ARGV[1]) then
            for i = 1, n do redis.call('HINCRBY', KEYS[k + i], 'spent', ARGV[a + 1]) end
            counted = counted + 1
          end
          k = k + 1 + n
        end
        return counted
        """;

    /// <summary>
    /// Counts calls of the ledger (its replay at start) in their windows, once per call id as a settle does, all of
    /// them in one round trip; returns how many were counted now. No alert is raised for them: the next call that
    /// settles in a window past its threshold raises it.
    /// </summary>
    public async Task<int> CountAsync(IReadOnlyList<(string CallId, IReadOnlyList<BudgetWindow> Windows, decimal Usd)> calls)
    {
        if (calls.Count == 0)
        {
            return 0;
        }

        var keys = new List<RedisKey>(calls.Count * 4);
        var values = new List<RedisValue>(1 + calls.Count * 2) { (long)SettledMarkerLifetime.TotalMilliseconds };
        foreach (var (callId, windows, usd) in calls)
        {
            keys.Add(SettledPrefix + callId);
            keys.AddRange(windows.Select(window => (RedisKey)window.Key));
            values.Add(windows.Count);
            values.Add(ToNanoDollars(usd));
        }

        return (int)await redis.GetDatabase().ScriptEvaluateAsync(ReplayScript, [.. keys], [.. values]);
    }

    /// <summary>The key marking that a window's alert was raised (per threshold, so a changed threshold alerts anew).</summary>
    internal RedisKey AlertMarker(BudgetWindow window) =>
        AlertPrefix + window.Key[BudgetWindows.KeyPrefix.Length..] + ":" + options.AlertThreshold.ToString(CultureInfo.InvariantCulture);

    /// <summary>The spending, in nano-dollars, at which a window's alert is raised.</summary>
    internal long AlertAmount(BudgetWindow window) => ToNanoDollars(window.LimitUsd * (decimal)options.AlertThreshold);

    public async Task<BudgetState> StateAsync(BudgetWindow window)
    {
        var fields = await redis.GetDatabase().HashGetAsync(window.Key, ["spent", "reserved"]);
        return new BudgetState(window.Name, window.LimitUsd, ToUsd((long)(fields[0].IsNull ? 0 : fields[0])), ToUsd((long)(fields[1].IsNull ? 0 : fields[1])));
    }
}

/// <summary>Whether a settle counted the call now, and the windows whose alert threshold it crossed first.</summary>
public sealed record Settlement(bool Counted, IReadOnlyList<BudgetWindow> AlertsCrossed)
{
    public static readonly Settlement NotCounted = new(false, []);
}

public sealed record BudgetState(string Window, decimal LimitUsd, decimal SpentUsd, decimal ReservedUsd);
