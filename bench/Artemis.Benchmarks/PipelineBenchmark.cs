using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Artemis.Agents;
using Artemis.Agents.Cards;
using Artemis.Agents.Persistence;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Artemis.Benchmarks;

/// <summary>
/// The card pipeline with 4 developer agents against 1, on the same scripted card with 200 ms model latency: each
/// developer writes a file, runs the tests in the sandbox and reports (three model calls), after one planning call.
/// Target (issue #6): the 4-developer card takes at most 1.3× the single-developer card's time. The two are measured
/// in alternating blocks in the same run, on real PostgreSQL, Redis, sandbox and simulator.
/// </summary>
internal static class PipelineBenchmark
{
    private const int LatencyMs = 200;

    private static readonly string[] Models = ["gpt-4o-mini"];

    public static async Task<int> RunAsync(string[] args)
    {
        var cardsPerBlock = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var blocks = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var warmUp = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8;
        var load = string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        await using var infrastructure = await BenchInfrastructure.StartAsync();
        using var simulator = new HttpClient { BaseAddress = new Uri(infrastructure.SimulatorV1, "/") };
        (await simulator.PutAsync("_sim/script", new StringContent(Script(), Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();

        var root = Directory.CreateTempSubdirectory("artemis-pipeline-bench-");
        File.SetUnixFileMode(root.FullName, (UnixFileMode)0b111_101_101);
        var source = Directory.CreateDirectory(Path.Combine(root.FullName, "source"));
        await File.WriteAllTextAsync(Path.Combine(source.FullName, "README.md"), "pipeline bench: write solution.txt\n");
        var workspaces = Directory.CreateDirectory(Path.Combine(root.FullName, "workspaces"));
        var settings = new Dictionary<int, Setting> { [1] = new(), [4] = new() };
        try
        {
            // Warm-up: cards not counted (JIT and its later tiers, pools, the sandbox's first start).
            foreach (var developers in new[] { 1, 4 })
            {
                await MeasureAsync(infrastructure, developers, warmUp, source.FullName, workspaces.FullName, new Setting());
            }

            for (var block = 0; block < blocks; block++)
            {
                foreach (var developers in new[] { 1, 4 })
                {
                    await MeasureAsync(infrastructure, developers, cardsPerBlock, source.FullName, workspaces.FullName, settings[developers]);
                }
            }
        }
        finally
        {
            root.Delete(recursive: true);
        }

        var one = Median(settings[1].Times);
        var four = Median(settings[4].Times);
        var ratio = four / one;
        var report = new StringBuilder();
        report.AppendLine("# Card pipeline: 4 developer agents against 1");
        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- pipeline {cardsPerBlock} {blocks} {warmUp}` (from the repository root, as root).");
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average (1, 5, 15 min) at start {load}.");
        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Each card: one planning call, then every developer makes three model calls (write a file, run the tests in the sandbox, report), each answered after {LatencyMs} ms by the simulator; then the arbiter runs the acceptance test (`test -f solution.txt`) once per attempt in the sandbox, and once more for the attempt that would win. Time from `POST /api/cards` to the card read back as Done. {blocks} alternating blocks of {cardsPerBlock} cards per setting after {warmUp} warm-up card{(warmUp == 1 ? "" : "s")} each; medians.");
        report.AppendLine();
        report.AppendLine("| developers | cards | median | min | max | model calls per card |");
        report.AppendLine("|---|---|---|---|---|---|");
        foreach (var (developers, setting) in settings)
        {
            var list = setting.Times;
            report.AppendLine(CultureInfo.InvariantCulture, $"| {developers} | {list.Count} | {Median(list):0} ms | {list.Min():0} ms | {list.Max():0} ms | {1 + 3 * developers} |");
        }

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"**Ratio 4 : 1 = {ratio:0.00}×** (target ≤ 1.30×): {(ratio <= 1.3 ? "met" : "**not met**")}.");
        report.AppendLine();
        report.AppendLine("Where the time goes: median time in each stage (from the card's `card.stage` events; Queued is the wait for a");
        report.AppendLine("claim) and CPU per card over each block (the benchmark's process hosts the Agents service and the simulator;");
        report.AppendLine("child processes are git and the sandbox's launcher chain with what runs in it).");
        report.AppendLine();
        var stages = settings.Values.SelectMany(setting => setting.Stages.Keys).Distinct().ToList();
        var cpu = settings.Values.SelectMany(setting => setting.Cpu.Keys).Distinct().ToList();
        report.AppendLine("| developers | " + string.Join(" | ", stages) + " | " + string.Join(" | ", cpu.Select(name => $"CPU: {name}")) + " |");
        report.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", stages.Count + cpu.Count)));
        foreach (var (developers, setting) in settings)
        {
            var cells = stages.Select(stage => setting.Stages.TryGetValue(stage, out var values) ? string.Create(CultureInfo.InvariantCulture, $"{Median(values):0} ms") : "–")
                .Concat(cpu.Select(name => setting.Cpu.TryGetValue(name, out var values) ? string.Create(CultureInfo.InvariantCulture, $"{values.Average():0} ms") : "–"));
            report.AppendLine(CultureInfo.InvariantCulture, $"| {developers} | {string.Join(" | ", cells)} |");
        }

        // The hand-written analysis below the figures is kept when they are rewritten.
        await BenchResults.WriteKeepingAnalysisAsync("pipeline.md", report.ToString());
        Console.WriteLine(report);
        return 0;
    }

    private static async Task MeasureAsync(BenchInfrastructure infrastructure, int developers, int cards, string source, string workspaces, Setting setting)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(AgentsApplication).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = infrastructure.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = infrastructure.Redis,
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={infrastructure.SimulatorV1};Key={BenchInfrastructure.SimulatorKey};Model=gpt-4o-mini",
            [ResourceNames.ApiKeyConfigKey] = "pipeline-bench-key-0123456789",
            ["Artemis:Budget:DailyUsd"] = "1000",
            ["Artemis:Budget:MonthlyUsd"] = "10000",
            ["Artemis:Workspace:Root"] = workspaces,
            ["Artemis:Agents:ParallelDevelopers"] = developers.ToString(CultureInfo.InvariantCulture),
            ["Artemis:Agents:MaxConcurrentCards"] = "1",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddArtemisAgents();
        var app = builder.Build();
        app.MapArtemisAgents();
        await app.StartAsync();
        try
        {
            await app.Services.GetRequiredService<DatabaseMigrator>().Completed;
            using var api = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            api.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, "pipeline-bench-key-0123456789");
            var cpuBefore = ProcessCpu.Sample();
            var ids = new List<string>();
            for (var i = 0; i < cards; i++)
            {
                var stopwatch = Stopwatch.StartNew();
                using var created = await api.PostAsJsonAsync("api/cards", new { title = $"pipeline bench ({developers} developers)", description = "write solution.txt", workspace = source, testCommand = "test -f solution.txt" });
                created.EnsureSuccessStatusCode();
                var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                // As a person watching would: the card's event stream, up to its last stage change (no polling to
                // compete with the card for the two cores).
                var (stage, reason) = await FinishedAsync(api, id);
                stopwatch.Stop();
                if (stage != CardStage.Done)
                {
                    throw new InvalidOperationException($"the bench card ended {stage}: {reason}");
                }

                setting.Times.Add(stopwatch.Elapsed.TotalMilliseconds);
                ids.Add(id);
            }

            foreach (var (name, milliseconds) in ProcessCpu.Sample())
            {
                setting.Cpu.TryAdd(name, []);
                setting.Cpu[name].Add((milliseconds - cpuBefore[name]) / cards);
            }

            await using var stages = app.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand("""
                SELECT c.id, c.created_at, e.payload->>'from', e.occurred_at
                FROM events e JOIN cards c ON c.id = e.card_id
                WHERE e.kind = 'card.stage' AND e.card_id = ANY($1) ORDER BY e.card_id, e.id
                """);
            stages.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
            await using var reader = await stages.ExecuteReaderAsync();
            var previous = (Card: "", At: DateTime.MinValue);
            while (await reader.ReadAsync())
            {
                var (id, created, from, at) = (reader.GetString(0), reader.GetDateTime(1), reader.GetString(2), reader.GetDateTime(3));
                var start = previous.Card == id ? previous.At : created;
                setting.Stages.TryAdd(from, []);
                setting.Stages[from].Add((at - start).TotalMilliseconds);
                previous = (id, at);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Reads the card's events (SSE) until its stage changes to a finished one.</summary>
    private static async Task<(CardStage Stage, string? Reason)> FinishedAsync(HttpClient api, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var response = await api.GetAsync($"api/cards/{id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            using var item = JsonDocument.Parse(line["data: ".Length..]);
            if (item.RootElement.GetProperty("kind").GetString() == "card.stage"
                && Enum.Parse<CardStage>(item.RootElement.GetProperty("payload").GetProperty("to").GetString()!) is var stage && stage.IsFinished())
            {
                return (stage, item.RootElement.GetProperty("payload").TryGetProperty("reason", out var reason) ? reason.GetString() : null);
            }
        }

        throw new InvalidOperationException($"the event stream of card {id} ended before the card finished");
    }

    private sealed class Setting
    {
        public List<double> Times { get; } = [];

        public Dictionary<string, List<double>> Stages { get; } = [];

        public Dictionary<string, List<double>> Cpu { get; } = [];
    }

    private static string Script() => JsonSerializer.Serialize(new
    {
        models = Models,
        steps = new object[]
        {
            new { name = "plan", match = new { anyContentContains = "You plan cards for Artemis" }, reply = new { content = "1. Write solution.txt.\n2. Run the tests.", delayMs = LatencyMs } },
            new { name = "write", match = new { lastRole = "user", lastContentContains = "solution.txt" }, reply = new { toolCalls = new[] { new { name = "files_write_file", arguments = new { path = "solution.txt", content = "done\n" } } }, delayMs = LatencyMs } },
            new { name = "test", match = new { lastRole = "tool", lastContentContains = "\"path\":\"solution.txt\"" }, reply = new { toolCalls = new[] { new { name = "sandbox_run_tests", arguments = new { } } }, delayMs = LatencyMs } },
            new { name = "report", match = new { lastRole = "tool", lastContentContains = "\"exitCode\":0" }, reply = new { content = "solution.txt written; the test passes.", delayMs = LatencyMs } },
        },
    });

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
