using StackExchange.Redis;

namespace Artemis.Agents.Costs;

/// <summary>
/// Budget leases (ADR-012): each replica holds, in Redis, a lease on every budget window it spends from — an amount
/// reserved there like a call's reservation, so no other replica can spend it — and admits its own calls against the
/// lease in memory, with no round trip on the call's path. A call that does not fit the lease's free part waits for
/// one sync with Redis that grows the lease by what the call lacks (and a little more: <c>Artemis:Budget:LeaseUsd</c>,
/// at most an eighth of what is left) or refuses the call with <see cref="BudgetExceededException"/> if any window
/// cannot give it. Settled calls are counted in Redis by the next sync, started at once: one script moves their
/// actual cost from the lease to spent, queues their ledger entries and notes alert crossings, once per call id.
/// <para>
/// Exactness: nothing is admitted unless it is covered in Redis, so no budget is ever exceeded by any number of
/// replicas. With one replica admission is exact (a call is refused only if the lease's free part and the rest of the
/// budget together cannot cover it). With several, a call can be refused while another replica's lease holds room:
/// free lease amounts go back to Redis after <see cref="IdleReturn"/> without calls, and a lease is never grown by
/// more than an eighth of what is left, so that room is small near a limit. <c>LeaseUsd</c> = 0 grows leases only by
/// what each call lacks. A killed replica's lease expires after <see cref="Lifetime"/> and is swept back like a
/// killed call's reservation; the calls it settled but had not synced (one round trip's worth) are not counted.
/// </para>
/// </summary>
public sealed partial class BudgetLeases(
    IConnectionMultiplexer redis, BudgetGuard guard, BudgetOptions options, CostMetrics metrics, BudgetAlerts alerts, TimeProvider time,
    ILogger<BudgetLeases> logger) : BackgroundService
{
    /// <summary>A lease not renewed for this long is swept by any replica: that of a killed process.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    /// <summary>A lease in use is renewed this often (every sync renews it too).</summary>
    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(15);

    /// <summary>A window's free lease amount goes back to Redis once no call of this replica has used it for this long.</summary>
    public static readonly TimeSpan IdleReturn = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    /// <summary>A lease under demand grows by what its replica spends in this long at its recent rate.</summary>
    private static readonly TimeSpan Horizon = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(5);
    private const int BatchSize = 256;
    private const int MaxBacklog = 4 * BatchSize;

    // KEYS[1] reservations zset, KEYS[2] this lease, KEYS[3] pending ledger stream, KEYS[4..3+n] windows,
    // KEYS[4+n..3+2n] their alert markers, KEYS[4+2n..3+2n+m] the settled markers of the m calls synced now.
    // ARGV[1] now (ms), ARGV[2] lease expiry (ms), ARGV[3] marker lifetime (ms), ARGV[4] n, ARGV[5] m, then per window:
    // limit, alert amount, amount the lease holds now, amount it lacks for a waiting call, amount it would like;
    // then the m calls' ledger entries (one JSON array), then per call its actual cost in each window (0 when not one
    // of its windows).
    // Returns {refused window or 0, lease was missing (1/0), {grant per window}, {counted 1/0 per call},
    // {windows whose alert amount was reached first now}, {spent, reserved per window}}.
    private const string SyncScript = BudgetGuard.SweepFunctions + """
        sweep(KEYS[1], KEYS[2], ARGV[1])
        local lease = KEYS[2]
        local id = lease:match('[^:]+$')
        local missing = redis.call('EXISTS', lease) == 0 and 1 or 0
        local n, m = tonumber(ARGV[4]), tonumber(ARGV[5])
        local function arg(i, k) return tonumber(ARGV[5 + (i - 1) * 5 + k]) end
        for i = 1, n do
          local target = arg(i, 3)
          local current = tonumber(redis.call('HGET', lease, KEYS[3 + i]) or '0')
          if target ~= current then redis.call('HINCRBY', KEYS[3 + i], 'reserved', target - current) end
          if target > 0 then redis.call('HSET', lease, KEYS[3 + i], target) else redis.call('HDEL', lease, KEYS[3 + i]) end
        end
        local counted, touched, sums = {}, {}, {}
        local at = 6 + n * 5
        -- Queued (one stream item for the batch) before any call is marked counted: a script stopped by an error
        -- in between leaves the calls in the ledger (which the counters are rebuilt from), never marked counted and
        -- lost. A duplicate entry is harmless: the ledger records a call id once.
        if m > 0 then redis.call('XADD', KEYS[3], '*', 'entries', ARGV[at]) end
        for i = 1, n do sums[i] = 0 end
        for e = 1, m do
          if redis.call('SET', KEYS[3 + 2 * n + e], 1, 'NX', 'PX', ARGV[3]) then
            counted[e] = 1
            for i = 1, n do sums[i] = sums[i] + tonumber(ARGV[at + i]) end
          else
            counted[e] = 0
          end
          at = at + n
        end
        -- One increment per window for the whole batch (sums of nano-dollars below 2^53: exact).
        for i = 1, n do
          if sums[i] > 0 then
            redis.call('HINCRBY', KEYS[3 + i], 'spent', sums[i])
            touched[i] = true
          end
        end
        local alerts, figures, refused = {}, {}, 0
        for i = 1, n do
          local spent = tonumber(redis.call('HGET', KEYS[3 + i], 'spent') or '0')
          local reserved = tonumber(redis.call('HGET', KEYS[3 + i], 'reserved') or '0')
          if touched[i] and spent >= arg(i, 2) and redis.call('SET', KEYS[3 + n + i], 1, 'NX', 'PX', ARGV[3]) then
            alerts[#alerts + 1] = i
          end
          if refused == 0 and arg(i, 4) > 0 and spent + reserved + arg(i, 4) > arg(i, 1) then refused = i end
          figures[2 * i - 1], figures[2 * i] = spent, reserved
        end
        local grants = {}
        for i = 1, n do
          grants[i] = 0
          local need = arg(i, 4)
          if refused == 0 and need > 0 then
            local left = arg(i, 1) - figures[2 * i - 1] - figures[2 * i]
            local grant = math.min(left, math.max(need, math.min(arg(i, 5), math.floor(left / 8))))
            redis.call('HINCRBY', KEYS[3 + i], 'reserved', grant)
            redis.call('HINCRBY', lease, KEYS[3 + i], grant)
            figures[2 * i] = figures[2 * i] + grant
            grants[i] = grant
          end
        end
        if redis.call('EXISTS', lease) == 1 then redis.call('ZADD', KEYS[1], ARGV[2], id) else redis.call('ZREM', KEYS[1], id) end
        return {refused, missing, grants, counted, alerts, figures}
        """;

    private readonly string _key = BudgetGuard.ReservationPrefix + $"lease-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly long _chunk = BudgetGuard.ToNanoDollars(options.LeaseUsd);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly List<Settled> _settled = [];
    private readonly List<BudgetWindow> _alertsToRaise = [];
    private readonly SemaphoreSlim _sync = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private long _settledCount;
    private long _syncedCount;
    private long _syncsStarted;
    private long _lastSync;
    private bool _held;
    private Figures? _latest;

    /// <summary>This replica's lease, as it appears among the reservations in Redis (for diagnostics).</summary>
    public string Id => _key[BudgetGuard.ReservationPrefix.Length..];

    /// <summary>Raised after a sync queued ledger entries (the ledger writer moves them to PostgreSQL).</summary>
    public event Action? Queued;

    /// <summary>
    /// Admits a call whose worst case is <paramref name="worstCaseUsd"/> in every one of <paramref name="windows"/>,
    /// from the leases when they have room, else after one sync that grows them; throws
    /// <see cref="BudgetExceededException"/>, before anything is sent, when a window cannot cover it.
    /// </summary>
    public async ValueTask<BudgetAdmission> AdmitAsync(IReadOnlyList<BudgetWindow> windows, decimal worstCaseUsd, CancellationToken cancellationToken = default)
    {
        var admission = new BudgetAdmission(windows, BudgetGuard.ToNanoDollars(worstCaseUsd));
        if (TryAdmit(admission, out _))
        {
            return admission;
        }

        var arrived = Volatile.Read(ref _syncsStarted);
        while (true)
        {
            await _sync.WaitAsync(cancellationToken);
            Outcome outcome;
            try
            {
                if (TryAdmit(admission, out var needs))
                {
                    return admission;
                }

                // A sync that began after this call arrived already saw a window without room for it: refused as it was.
                if (_latest is { } latest && latest.Started > arrived && latest.Refuses(needs) is { } seen)
                {
                    throw new BudgetExceededException(seen.Window, BudgetGuard.ToUsd(seen.Spent), BudgetGuard.ToUsd(seen.Reserved), worstCaseUsd);
                }

                outcome = await SyncLockedAsync(needs, returnAll: false);
                arrived = outcome.Started;
                if (outcome.Refused is null && TryAdmit(admission, out _))
                {
                    AfterSync(outcome);
                    return admission;
                }
            }
            finally
            {
                _sync.Release();
            }

            AfterSync(outcome);
            if (outcome.Refused is { } refused)
            {
                throw new BudgetExceededException(refused.Window, BudgetGuard.ToUsd(refused.Spent), BudgetGuard.ToUsd(refused.Reserved), worstCaseUsd);
            }
        }
    }

    /// <summary>A call that was never billed: its worst case goes back to the leases' free part.</summary>
    public void Release(BudgetAdmission admission)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            foreach (var window in admission.Windows)
            {
                var lease = _leases[window.Key];
                lease.InFlight -= admission.Amount;
                lease.LastUsed = now;
            }
        }
    }

    /// <summary>
    /// Counts a billed call: its worst case leaves the leases, its actual cost is held there until the next sync (started
    /// now, off the call's path) counts it in Redis and queues its ledger entry, once per call id.
    /// </summary>
    public void Settle(BudgetAdmission admission, LedgerEntry entry)
    {
        var actual = BudgetGuard.ToNanoDollars(entry.CostUsd);
        lock (_gate)
        {
            var now = time.GetTimestamp();
            foreach (var window in admission.Windows)
            {
                var lease = _leases[window.Key];
                lease.InFlight -= admission.Amount;
                lease.Unsynced += actual;
                lease.LastUsed = now;
            }

            _settled.Add(new Settled(admission.Windows, actual, entry));
            _settledCount++;
        }

        Wake();
    }

    /// <summary>Returns once every call settled before it was called is counted in Redis (and its entry queued).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        long target;
        lock (_gate)
        {
            target = _settledCount;
        }

        while (Volatile.Read(ref _syncedCount) < target)
        {
            await SyncAsync(returnAll: false, cancellationToken);
        }
    }

    /// <summary>Flushes, then gives every amount no call in flight needs back to the budgets (at once, not after idling).</summary>
    public async Task ReturnUnusedAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        await SyncAsync(returnAll: true, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(Tick, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (Due())
            {
                // At most one sync per Gather: a call settled after a quiet spell is counted at once, a stream of
                // calls in batches (each sync's script costs about what a dozen calls' entries do).
                var since = time.GetElapsedTime(Volatile.Read(ref _lastSync));
                if (since < Gather && !await PauseAsync(Gather - since, stoppingToken))
                {
                    break;
                }

                await SyncQuietlyAsync(returnAll: false, stoppingToken);
            }

            await RaiseAlertsAsync(stoppingToken);
        }

        // Stopping: what this replica settled is counted and its unused leases go back now, not when they expire.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (!last.IsCancellationRequested && await SyncQuietlyAsync(returnAll: true, last.Token) && Volatile.Read(ref _syncedCount) < _settledCount)
        {
        }

        await RaiseAlertsAsync(last.Token);
    }

    private async Task<bool> PauseAsync(TimeSpan pause, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(pause, time, stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _sync.Dispose();
        _wake.Dispose();
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another wake-up got there first: one sync serves both.
            }
        }
    }

    /// <summary>Whether the loop should sync now: calls to count, free amounts idle long enough, or a lease to renew.</summary>
    private bool Due()
    {
        lock (_gate)
        {
            if (_settled.Count > 0)
            {
                return true;
            }

            var now = time.GetTimestamp();
            if (_held && time.GetElapsedTime(_lastSync, now) >= Renewal)
            {
                return true;
            }

            foreach (var lease in _leases.Values)
            {
                if (lease.InFlight == 0 && lease.Free > 0 && time.GetElapsedTime(lease.LastUsed, now) >= IdleReturn)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private bool TryAdmit(BudgetAdmission admission, out Dictionary<string, long> needs)
    {
        needs = [];
        lock (_gate)
        {
            // Calls settle faster than Redis counts them: new calls wait for a sync, so the backlog stays bounded.
            var fits = _settled.Count < MaxBacklog;
            foreach (var window in admission.Windows)
            {
                if (!_leases.TryGetValue(window.Key, out var lease))
                {
                    _leases[window.Key] = lease = new Lease(window);
                }

                lease.Window = window;
                if (lease.Free < admission.Amount)
                {
                    fits = false;
                    needs[window.Key] = admission.Amount - lease.Free;
                }
            }

            if (!fits)
            {
                return false;
            }

            var now = time.GetTimestamp();
            foreach (var window in admission.Windows)
            {
                var lease = _leases[window.Key];
                lease.InFlight += admission.Amount;
                lease.AdmittedSinceGrant += admission.Amount;
                lease.LastUsed = now;
            }

            return true;
        }
    }

    private async Task<bool> SyncQuietlyAsync(bool returnAll, CancellationToken cancellationToken)
    {
        try
        {
            await SyncAsync(returnAll, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Settled calls stay queued here and the leases as they were in Redis: the next sync retries.
            SyncFailed(logger, exception);
            return false;
        }
    }

    private async Task SyncAsync(bool returnAll, CancellationToken cancellationToken)
    {
        await _sync.WaitAsync(cancellationToken);
        Outcome outcome;
        try
        {
            outcome = await SyncLockedAsync([], returnAll);
        }
        finally
        {
            _sync.Release();
        }

        AfterSync(outcome);
    }

    /// <summary>One sync with Redis; the caller holds <see cref="_sync"/>, so leases change in Redis one sync at a time.</summary>
    private async Task<Outcome> SyncLockedAsync(Dictionary<string, long> needs, bool returnAll)
    {
        var started = Interlocked.Increment(ref _syncsStarted);
        List<Settled> batch;
        List<Lease> leases;
        Dictionary<Lease, long> synced = [];
        Dictionary<Lease, long> wants = [];
        bool held;
        lock (_gate)
        {
            held = _held;
            batch = _settled.GetRange(0, Math.Min(BatchSize, _settled.Count));
            _settled.RemoveRange(0, batch.Count);
            foreach (var call in batch)
            {
                foreach (var window in call.Windows)
                {
                    var lease = _leases[window.Key];
                    lease.Unsynced -= call.Actual;
                    lease.Granted = Math.Max(0, lease.Granted - call.Actual);
                    synced[lease] = synced.GetValueOrDefault(lease) + call.Actual;
                }
            }

            // Free amounts nobody used lately go back (all of them when asked); they are gone from here before the
            // script runs, so no call is admitted against them meanwhile.
            var now = time.GetTimestamp();
            foreach (var lease in _leases.Values)
            {
                if (returnAll || (lease.InFlight == 0 && time.GetElapsedTime(lease.LastUsed, now) >= IdleReturn))
                {
                    lease.Granted = Math.Min(lease.Granted, lease.InFlight + lease.Unsynced);
                }
            }

            leases = [.. _leases.Values];
            foreach (var lease in leases)
            {
                if (needs.ContainsKey(lease.Window.Key))
                {
                    wants[lease] = lease.Want(_chunk, now, time);
                }
            }
        }

        if (batch.Count == 0 && leases.Count == 0)
        {
            return new Outcome(started, null, [], []);
        }

        RedisResult[] result;
        var n = leases.Count;
        try
        {
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            RedisKey[] keys =
            [
                BudgetGuard.Reservations, _key, CostLedger.PendingStream,
                .. leases.Select(lease => (RedisKey)lease.Window.Key),
                .. leases.Select(lease => guard.AlertMarker(lease.Window)),
                .. batch.Select(call => (RedisKey)(BudgetGuard.SettledPrefix + call.Entry.CallId)),
            ];
            var values = new List<RedisValue>(6 + n * 5 + batch.Count * n)
            {
                nowMs, nowMs + (long)Lifetime.TotalMilliseconds, (long)BudgetGuard.SettledMarkerLifetime.TotalMilliseconds, n, batch.Count,
            };
            foreach (var lease in leases)
            {
                values.AddRange(
                [
                    BudgetGuard.ToNanoDollars(lease.Window.LimitUsd), guard.AlertAmount(lease.Window), lease.Granted, needs.GetValueOrDefault(lease.Window.Key),
                    wants.GetValueOrDefault(lease),
                ]);
            }

            values.Add(LedgerEntry.ToJson(batch.Select(call => call.Entry).ToList()));
            foreach (var call in batch)
            {
                values.AddRange(leases.Select(lease => (RedisValue)(call.Windows.Any(window => window.Key == lease.Window.Key) ? call.Actual : 0)));
            }

            result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(SyncScript, keys, [.. values]))!;
        }
        catch
        {
            // Nothing changed in Redis that this replica does not know of (a script runs whole or not at all, and the
            // next one sets every lease amount again): the calls go back to be synced next time.
            lock (_gate)
            {
                _settled.InsertRange(0, batch);
                foreach (var (lease, amount) in synced)
                {
                    lease.Unsynced += amount;
                    lease.Granted += amount;
                }
            }

            throw;
        }

        var refusedIndex = (int)result[0];
        var grants = (RedisResult[])result[2]!;
        var counted = (RedisResult[])result[3]!;
        var crossed = ((RedisResult[])result[4]!).Select(index => leases[(int)index - 1].Window).ToList();
        var figures = (RedisResult[])result[5]!;
        if ((int)result[1] == 1 && held)
        {
            LeaseLost(logger, Lifetime);
        }

        var seen = new Dictionary<string, WindowFigures>(StringComparer.Ordinal);
        lock (_gate)
        {
            for (var i = 0; i < n; i++)
            {
                var lease = leases[i];
                if ((long)grants[i] > 0)
                {
                    lease.Granted += (long)grants[i];
                    lease.GrantedAt = time.GetTimestamp();
                    lease.AdmittedSinceGrant = 0;
                }
                seen[lease.Window.Key] = new WindowFigures(lease.Window, (long)figures[2 * i], (long)figures[2 * i + 1]);
                if (lease.Granted == 0 && lease.InFlight == 0 && lease.Unsynced == 0)
                {
                    _leases.Remove(lease.Window.Key);
                }
            }

            _held = _leases.Values.Any(lease => lease.Granted > 0);
            _lastSync = time.GetTimestamp();
            _syncedCount += batch.Count;
            _alertsToRaise.AddRange(crossed);
        }

        var figuresSeen = new Figures(started, seen);
        _latest = figuresSeen;
        var calls = batch.Select((call, e) => (call, (int)counted[e] == 1)).ToList();
        return new Outcome(started, refusedIndex > 0 ? seen[leases[refusedIndex - 1].Window.Key] : null, calls, crossed);
    }

    /// <summary>What follows a sync, outside it: the instruments of the calls it counted, the ledger writer, alerts.</summary>
    private void AfterSync(Outcome outcome)
    {
        foreach (var (call, counted) in outcome.Calls)
        {
            metrics.Counted(call.Entry, counted, logger);
        }

        if (outcome.Calls.Count > 0)
        {
            Queued?.Invoke();
        }

        if (outcome.Crossed.Count > 0)
        {
            Wake();
        }
    }

    private async Task RaiseAlertsAsync(CancellationToken cancellationToken)
    {
        List<BudgetWindow> crossed;
        lock (_gate)
        {
            if (_alertsToRaise.Count == 0)
            {
                return;
            }

            crossed = [.. _alertsToRaise];
            _alertsToRaise.Clear();
        }

        try
        {
            await alerts.RaiseAsync(new Settlement(true, crossed), cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The crossing was decided once, in Redis; its event could not be published (logged, not retried).
            AlertFailed(logger, exception);
        }
    }

    /// <summary>This replica's lease on one window. Granted is what Redis holds for it (once synced).</summary>
    private sealed class Lease(BudgetWindow window)
    {
        public BudgetWindow Window { get; set; } = window;

        /// <summary>Held in Redis for this replica, as of the last sync, less what was synced or returned since.</summary>
        public long Granted { get; set; }

        /// <summary>Worst cases of the calls admitted and not yet settled.</summary>
        public long InFlight { get; set; }

        /// <summary>Actual costs of settled calls not yet counted in Redis.</summary>
        public long Unsynced { get; set; }

        public long LastUsed { get; set; }

        public long Free => Granted - InFlight - Unsynced;

        /// <summary>Amounts admitted since the lease last grew, and when it did: this replica's rate of spending.</summary>
        public long AdmittedSinceGrant { get; set; }

        public long GrantedAt { get; set; }

        /// <summary>
        /// How much the lease would like to grow by: <c>LeaseUsd</c>, or what this replica admitted in the last
        /// <see cref="Horizon"/> at its recent rate if more (the script caps it at an eighth of what is left).
        /// </summary>
        public long Want(long chunk, long now, TimeProvider time)
        {
            var elapsed = time.GetElapsedTime(GrantedAt, now);
            if (GrantedAt == 0 || elapsed <= TimeSpan.Zero)
            {
                return chunk;
            }

            var atRate = (decimal)AdmittedSinceGrant * (decimal)(Horizon / elapsed);
            return (long)Math.Min(long.MaxValue / 4, Math.Max(chunk, atRate));
        }
    }

    private sealed record Settled(IReadOnlyList<BudgetWindow> Windows, long Actual, LedgerEntry Entry);

    private sealed record WindowFigures(BudgetWindow Window, long Spent, long Reserved);

    /// <summary>Spent and reserved of each window as one sync left them, and when that sync began.</summary>
    private sealed record Figures(long Started, Dictionary<string, WindowFigures> Windows)
    {
        public WindowFigures? Refuses(Dictionary<string, long> needs)
        {
            foreach (var (key, need) in needs)
            {
                if (Windows.TryGetValue(key, out var seen) && seen.Spent + seen.Reserved + need > BudgetGuard.ToNanoDollars(seen.Window.LimitUsd))
                {
                    return seen;
                }
            }

            return null;
        }
    }

    private sealed record Outcome(long Started, WindowFigures? Refused, IReadOnlyList<(Settled Call, bool Counted)> Calls, IReadOnlyList<BudgetWindow> Crossed);

    [LoggerMessage(EventId = 4040, Level = LogLevel.Warning, Message = "Budget counters could not be synced with Redis yet; settled calls stay counted here and are retried")]
    private static partial void SyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning, Message = "This replica's budget lease was gone from Redis (not renewed within {Lifetime}): re-reserved what its calls in flight hold")]
    private static partial void LeaseLost(ILogger logger, TimeSpan lifetime);

    [LoggerMessage(EventId = 4042, Level = LogLevel.Error, Message = "A budget alert could not be published")]
    private static partial void AlertFailed(ILogger logger, Exception exception);
}

/// <summary>A call admitted against the leases of its windows, for its worst case in nano-dollars.</summary>
public sealed record BudgetAdmission(IReadOnlyList<BudgetWindow> Windows, long Amount);
