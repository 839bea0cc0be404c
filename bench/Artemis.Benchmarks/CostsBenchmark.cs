using System.Diagnostics;
using System.Globalization;
using System.Text;
using Artemis.Agents.Costs;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.ServiceDefaults;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenAI;
using StackExchange.Redis;

namespace Artemis.Benchmarks;

/// <summary>
/// The cost path's figures, each against a baseline measured in the same run: the CostFilter's added time per call
/// (in-process, over a model that answers at once), the whole pipeline against the simulator with and without it,
/// and budget reservations per second with 256 concurrent callers on real Redis, checked for overspend.
/// </summary>
internal static class CostsBenchmark
{
    private const string Model = "gpt-4o-mini";
    private const int Callers = 256;
    private static readonly string[] CountedProcesses = ["service", "Redis", "PostgreSQL"];

    public static async Task<int> RunAsync(string[] args)
    {
        await using var infrastructure = await BenchInfrastructure.StartAsync();
        using var host = BuildHost(infrastructure);
        await host.StartAsync();
        await host.Services.GetRequiredService<DatabaseMigrator>().Completed;
        await host.Services.GetRequiredService<BudgetReconciler>().Completed;
        await SetScriptAsync(infrastructure, delayMs: 0);

        var report = new StringBuilder();
        report.AppendLine("# Cost path benchmarks").AppendLine();
        report.AppendLine("Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- costs` (from the repository root).");
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        report.AppendLine("Real PostgreSQL 15 and Redis (LocalServers), the model simulator on loopback; every figure's baseline is measured in the same run, interleaved.").AppendLine();
        report.AppendLine("| figure | measured | baseline (same run) | ratio / added | target |");
        report.AppendLine("|---|---|---|---|---|");

        await InProcessOverheadAsync(host.Services, report);
        await EndToEndAsync(host.Services, infrastructure, report);
        await ReservationsAsync(host.Services, infrastructure, report);
        await ReplayAsync(host.Services, report);

        await BenchResults.WriteKeepingAnalysisAsync("costs.md", report.ToString());
        Console.WriteLine(report);
        await host.StopAsync();
        return 0;
    }

    private static IHost BuildHost(BenchInfrastructure infrastructure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = infrastructure.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = infrastructure.Redis,
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={infrastructure.SimulatorV1};Key={BenchInfrastructure.SimulatorKey};Model={Model}",
            ["Artemis:Budget:DailyUsd"] = "1000000",
            ["Artemis:Budget:MonthlyUsd"] = "1000000",
            ["Artemis:Budget:PerCardUsd"] = "1000000",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCosts();
        builder.AddModels();
        return builder.Build();
    }

    private static async Task SetScriptAsync(BenchInfrastructure infrastructure, int delayMs)
    {
        using var http = new HttpClient();
        using var content = new StringContent(
            $$"""{ "steps": [], "fallback": { "content": "Benchmark reply.", "delayMs": {{delayMs}}, "usage": { "promptTokens": 120, "cachedTokens": 20, "completionTokens": 12 } } }""",
            Encoding.UTF8, "application/json");
        using var response = await http.PutAsync(new Uri(infrastructure.SimulatorV1, "/_sim/script"), content);
        response.EnsureSuccessStatusCode();
    }

    private static readonly ChatMessage Instructions = new(ChatRole.System, "You are a careful developer.");
    private static long _prompts;

    /// <summary>
    /// Each call's prompt: the same instructions and a new request text (a new string, as a new card's or step's is), so
    /// the token estimate counts the request afresh every call and finds only the instructions' count kept.
    /// </summary>
    private static ChatMessage[] Prompt() =>
        [Instructions, new(ChatRole.User, string.Create(CultureInfo.InvariantCulture, $"Add a unit test for the parser (step {Interlocked.Increment(ref _prompts)})."))];

    /// <summary>The filter over a model that answers at once, against that model alone: what the filter adds per call.</summary>
    private static async Task InProcessOverheadAsync(IServiceProvider services, StringBuilder report)
    {
        using var instant = new InstantChatClient();
        using var filtered = ActivatorUtilities.CreateInstance<CostFilter>(services, instant);
        var options = new CostAttribution("bench-card", "bench", "bench-agent").ApplyTo(new ChatOptions());
        var comparison = await CompareAsync(
            () => filtered.GetResponseAsync(Prompt(), options), () => instant.GetResponseAsync(Prompt(), options), warmUp: 20_000, rounds: 10, perRound: 2_000);
        var (withFilter, without) = (comparison.A, comparison.B);
        var added = withFilter - without;
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| CostFilter per call, in-process (estimate, admit against the budget leases, price, settle; the sync with Redis runs beside the call) | {Micro(withFilter)} | {Micro(without)} (a model that answers at once) | +{Micro(added)} | ≤ 50 µs |");

        // The filter's own computation, without its I/O: token estimate and exact pricing.
        var estimator = services.GetRequiredService<TokenEstimator>();
        var price = services.GetRequiredService<PriceCatalog>().GetPrice(Model);
        var usage = new UsageDetails { InputTokenCount = 120, CachedInputTokenCount = 20, OutputTokenCount = 12 };
        TimeSpan Compute(Func<ChatMessage[]> prompt)
        {
            const int n = 20_000;
            var prompts = Enumerable.Range(0, n).Select(_ => prompt()).ToList();
            var stopwatch = Stopwatch.StartNew();
            foreach (var messages in prompts)
            {
                var tokens = estimator.CountPromptTokens(messages, options);
                _ = CallCost.WorstCase(Model, price, tokens, 4096);
                _ = CallCost.Price(Model, price, usage);
            }

            return stopwatch.Elapsed / n;
        }

        var history = Prompt();
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| CostFilter computation alone (token estimate + worst case + exact price), a new request text each call | {Micro(Compute(Prompt))} | — | — | ≤ 50 µs |");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| The same, every text seen before (a conversation's history sent again on the next round trip) | {Micro(Compute(() => history))} | — | — | — |");
    }

    /// <summary>The whole pipeline against the simulator, with and without the filter (same client, same HTTP stack).</summary>
    private static async Task EndToEndAsync(IServiceProvider services, BenchInfrastructure infrastructure, StringBuilder report)
    {
        var withFilter = services.GetRequiredService<IChatClient>();
        // The service's pipeline (ModelsExtensions.AddModels) without the CostFilter, on the same OpenAI client.
        using var without = new ChatClientBuilder(services.GetRequiredService<OpenAIClient>().GetChatClient(Model).AsIChatClient())
            .UseFunctionInvocation().UseOpenTelemetry(sourceName: "Artemis.Models").Build(services);
        var options = new CostAttribution("bench-card", "bench", "bench-agent").ApplyTo(new ChatOptions());
        // The same request on the wire: the filter would add the configured output limit.
        Func<ChatOptions> plain = () => new ChatOptions { MaxOutputTokens = services.GetRequiredService<ModelOptions>().MaxOutputTokens };

        // The first ~10,000 calls of this pipeline run partly in code the tiered JIT has not optimised yet (in a trial,
        // 1,000-call rounds went from 1.7 ms to 0.25 ms a call over the first 15,000 calls): measured after 12,000 each.
        const int warmUp = 12_000, rounds = 15, perRound = 1_000;
        var instant = await CompareAsync(
            () => withFilter.GetResponseAsync(Prompt(), options), () => without.GetResponseAsync(Prompt(), plain()), warmUp, rounds, perRound);
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| One model call end to end (real OpenAI connector → simulator over loopback, answering at once; after {warmUp:N0} warm-up calls each, {rounds} rounds of {perRound:N0}) | {Milli(instant.A)} | {Milli(instant.B)} without the CostFilter | {instant.Ratio:0.00}× (median of the rounds' ratios) | ≤ 1.05× |");
        string Cpu(Dictionary<string, double> cpu) =>
            string.Join(" + ", CountedProcesses.Select(name => string.Create(CultureInfo.InvariantCulture, $"{cpu[name]:0} {name}")));
        var addedCpu = CountedProcesses.Sum(name => instant.CpuA[name] - instant.CpuB[name]);
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| CPU per call in those rounds, µs (service = the client, the CostFilter, its counting and the simulator; Redis and PostgreSQL: their processes) | {Cpu(instant.CpuA)} | {Cpu(instant.CpuB)} without | +{addedCpu:0} µs | — |");

        // The same with the simulator taking a little time per answer: 5 ms (no hosted model answers this fast) and
        // 50 ms (the low end of a hosted model's latency).
        foreach (var delayMs in (int[])[5, 50])
        {
            await SetScriptAsync(infrastructure, delayMs);
            var slow = await CompareAsync(
                () => withFilter.GetResponseAsync(Prompt(), options), () => without.GetResponseAsync(Prompt(), plain()), warmUp: 10, rounds: 5, perRound: 500 / delayMs);
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| One model call end to end, the simulator answering in {delayMs} ms | {Milli(slow.A)} | {Milli(slow.B)} without the CostFilter | {slow.Ratio:0.000}× | ≤ 1.05× |");
        }

        await SetScriptAsync(infrastructure, delayMs: 0);
    }

    /// <summary>
    /// 256 callers admitting and settling against one budget that fills up, through the budget leases the CostFilter
    /// uses (every admitted call also settled: counted in Redis and queued for the ledger): throughput, and no overspend.
    /// </summary>
    private static async Task ReservationsAsync(IServiceProvider services, BenchInfrastructure infrastructure, StringBuilder report)
    {
        var guard = services.GetRequiredService<BudgetGuard>();
        var leases = services.GetRequiredService<BudgetLeases>();
        var window = new BudgetWindow("bench", BudgetWindows.KeyPrefix + "bench:" + Guid.NewGuid().ToString("N"), LimitUsd: 200m);
        const decimal callUsd = 0.001m;
        var cost = new CallCost(Model, 120, 20, 12, 0, 0, callUsd);
        var attribution = new CostAttribution("bench-card", "bench", "bench-agent");
        var duration = TimeSpan.FromSeconds(5);
        long reserved = 0, refused = 0;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            var i = 0;
            while (stopwatch.Elapsed < duration)
            {
                try
                {
                    var admission = await leases.AdmitAsync([window], callUsd);
                    Interlocked.Increment(ref reserved);
                    leases.Settle(admission, LedgerEntry.For($"bench-{caller}-{i++}-{Guid.NewGuid():N}", DateTimeOffset.UtcNow, cost, attribution, false));
                }
                catch (BudgetExceededException)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })));
        await leases.ReturnUnusedAsync(CancellationToken.None);
        var elapsed = stopwatch.Elapsed;
        var state = await guard.StateAsync(window);
        var perSecond = (reserved + refused) / elapsed.TotalSeconds;

        // Baseline: the same 256 callers doing the cheapest Redis round trip (PING) for as long.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(infrastructure.Redis);
        long pings = 0;
        stopwatch.Restart();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            var db = redis.GetDatabase();
            while (stopwatch.Elapsed < duration)
            {
                await db.PingAsync();
                Interlocked.Increment(ref pings);
            }
        })));
        var pingsPerSecond = pings / stopwatch.Elapsed.TotalSeconds;
        var overspend = Math.Max(0m, state.SpentUsd - window.LimitUsd);
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| Budget admissions per second through the leases, {Callers} concurrent callers, real Redis (each admitted call also settled: counted in Redis, ledger entry queued) | {perSecond:N0}/s ({reserved:N0} admitted, {refused:N0} refused once full) | {pingsPerSecond:N0} PING/s | {perSecond / pingsPerSecond:0.00}× of PING | ≥ 20,000/s |");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| Overspend of that budget (limit ${window.LimitUsd}) | ${overspend} (spent ${state.SpentUsd}, reserved ${state.ReservedUsd} at the end) | — | — | 0 |");
    }

    /// <summary>
    /// The ledger's replay into the budget counters at start (BudgetReconciler): 100,000 calls in the ledger never
    /// counted, against counting calls one round trip each as settling does (on 5,000 others).
    /// </summary>
    private static async Task ReplayAsync(IServiceProvider services, StringBuilder report)
    {
        const int rows = 100_000, single = 5_000;
        var ledger = services.GetRequiredService<CostLedger>();
        var guard = services.GetRequiredService<BudgetGuard>();
        var windows = services.GetRequiredService<BudgetWindows>();
        var cost = new CallCost(Model, 120, 20, 12, 0, 0, 0.0001m);
        var run = Guid.NewGuid().ToString("N")[..8];
        var entries = Enumerable.Range(0, rows + single)
            .Select(i => LedgerEntry.For($"replay-{run}-{i}", DateTimeOffset.UtcNow, cost, new CostAttribution($"replay-{run}-{i % 100}", "bench", "bench-agent"), false))
            .ToList();
        foreach (var chunk in entries.Take(rows).Chunk(1_000))
        {
            await ledger.RecordAsync(chunk, CancellationToken.None);
        }

        // The replay reads every row of the last 40 days: these and the rows the figures above put in the ledger.
        await using var count = services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(
            "SELECT count(*) FROM cost_entries WHERE occurred_at >= now() - interval '40 days'");
        var examined = (long)(await count.ExecuteScalarAsync())!;
        var stopwatch = Stopwatch.StartNew();
        var counted = await services.GetRequiredService<BudgetReconciler>().ReconcileAsync(CancellationToken.None);
        var replay = stopwatch.Elapsed;
        stopwatch.Restart();
        foreach (var entry in entries.Skip(rows))
        {
            await guard.SettleAsync(entry.CallId, windows.For(entry.CardId), entry.CostUsd);
        }

        var oneByOne = stopwatch.Elapsed;
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| Ledger replay into the budget counters at start: {examined:N0} rows, {counted:N0} of them never counted | {replay.TotalSeconds:0.00} s ({examined / replay.TotalSeconds:N0} rows/s) | {examined / (single / oneByOne.TotalSeconds):0.0} s at {single / oneByOne.TotalSeconds:N0} rows/s, one round trip each (as before) | {oneByOne.TotalSeconds / single / (replay.TotalSeconds / examined):0.0}× faster | — |");
    }

    /// <summary>A measured against B: medians of their rounds, the median of each round pair's ratio, and CPU per call.</summary>
    private sealed record Comparison(TimeSpan A, TimeSpan B, double Ratio, Dictionary<string, double> CpuA, Dictionary<string, double> CpuB);

    /// <summary>
    /// Warms both up, then times A and B in turn, round by round, so drift in the machine's speed falls on both alike;
    /// the ratio is the median of the rounds' A/B ratios. CPU per call (µs) is each process's CPU during A's rounds and
    /// during B's, as /proc counts it (10 ms steps; background work a round starts can finish in the next one).
    /// </summary>
    private static async Task<Comparison> CompareAsync(Func<Task> a, Func<Task> b, int warmUp, int rounds, int perRound)
    {
        for (var i = 0; i < warmUp; i++)
        {
            await a();
            await b();
        }

        List<double> timesA = [], timesB = [], ratios = [];
        Dictionary<string, double> cpuA = [], cpuB = [];
        for (var round = 0; round < rounds; round++)
        {
            var before = ProcessCpu.Sample();
            timesA.Add(await TimeAsync(a, perRound));
            var between = ProcessCpu.Sample();
            timesB.Add(await TimeAsync(b, perRound));
            var after = ProcessCpu.Sample();
            ratios.Add(timesA[^1] / timesB[^1]);
            foreach (var name in before.Keys)
            {
                cpuA[name] = cpuA.GetValueOrDefault(name) + (between[name] - before[name]) * 1000 / (rounds * perRound);
                cpuB[name] = cpuB.GetValueOrDefault(name) + (after[name] - between[name]) * 1000 / (rounds * perRound);
            }
        }

        return new Comparison(TimeSpan.FromTicks((long)Median(timesA)), TimeSpan.FromTicks((long)Median(timesB)), Median(ratios), cpuA, cpuB);
    }

    private static async Task<double> TimeAsync(Func<Task> action, int count)
    {
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await action();
        }

        return stopwatch.Elapsed.Ticks / (double)count;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static string Micro(TimeSpan value) => $"{value.TotalMicroseconds:0.0} µs";

    private static string Milli(TimeSpan value) => $"{value.TotalMilliseconds:0.00} ms";

    /// <summary>A model that answers at once with fixed usage: the baseline that isolates what the filter adds.</summary>
    private sealed class InstantChatClient : IChatClient
    {
        private static readonly ChatResponse Response = new(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            Usage = new UsageDetails { InputTokenCount = 120, CachedInputTokenCount = 20, OutputTokenCount = 12 },
        };

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(Response);

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("the benchmark measures non-streaming calls");

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
