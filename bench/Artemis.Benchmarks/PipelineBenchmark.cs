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
        var load = string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        await using var infrastructure = await BenchInfrastructure.StartAsync();
        using var simulator = new HttpClient { BaseAddress = new Uri(infrastructure.SimulatorV1, "/") };
        (await simulator.PutAsync("_sim/script", new StringContent(Script(), Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();

        var root = Directory.CreateTempSubdirectory("artemis-pipeline-bench-");
        File.SetUnixFileMode(root.FullName, (UnixFileMode)0b111_101_101);
        var source = Directory.CreateDirectory(Path.Combine(root.FullName, "source"));
        await File.WriteAllTextAsync(Path.Combine(source.FullName, "README.md"), "pipeline bench: write solution.txt\n");
        var workspaces = Directory.CreateDirectory(Path.Combine(root.FullName, "workspaces"));
        var times = new Dictionary<int, List<double>> { [1] = [], [4] = [] };
        try
        {
            // Warm-up: one card each, not counted (JIT, pools, the sandbox's first start).
            foreach (var developers in new[] { 1, 4 })
            {
                await MeasureAsync(infrastructure, developers, 1, source.FullName, workspaces.FullName, []);
            }

            for (var block = 0; block < blocks; block++)
            {
                foreach (var developers in new[] { 1, 4 })
                {
                    await MeasureAsync(infrastructure, developers, cardsPerBlock, source.FullName, workspaces.FullName, times[developers]);
                }
            }
        }
        finally
        {
            root.Delete(recursive: true);
        }

        var one = Median(times[1]);
        var four = Median(times[4]);
        var ratio = four / one;
        var report = new StringBuilder();
        report.AppendLine("# Card pipeline: 4 developer agents against 1");
        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- pipeline {cardsPerBlock} {blocks}` (from the repository root, as root).");
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average (1, 5, 15 min) at start {load}.");
        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Each card: one planning call, then every developer makes three model calls (write a file, run the tests in the sandbox, report), each answered after {LatencyMs} ms by the simulator; then the arbiter runs the acceptance test (`test -f solution.txt`) twice per attempt in the sandbox. Time from `POST /api/cards` to the card read back as Done. {blocks} alternating blocks of {cardsPerBlock} cards per setting after one warm-up card each; medians.");
        report.AppendLine();
        report.AppendLine("| developers | cards | median | min | max | model calls per card |");
        report.AppendLine("|---|---|---|---|---|---|");
        foreach (var (developers, list) in times)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {developers} | {list.Count} | {Median(list):0} ms | {list.Min():0} ms | {list.Max():0} ms | {1 + 3 * developers} |");
        }

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"**Ratio 4 : 1 = {ratio:0.00}×** (target ≤ 1.30×): {(ratio <= 1.3 ? "met" : "**not met**")}.");
        report.AppendLine();
        report.AppendLine("The developers' model calls overlap (they wait on the model together); what does not overlap is CPU work on a");
        report.AppendLine("2-core machine: four workspace copies and git baselines, and the arbiter's sandboxed test runs (two per attempt).");
        // The hand-written analysis below the figures is kept when they are rewritten.
        await BenchResults.WriteKeepingAnalysisAsync("pipeline.md", report.ToString());
        Console.WriteLine(report);
        return 0;
    }

    private static async Task MeasureAsync(BenchInfrastructure infrastructure, int developers, int cards, string source, string workspaces, List<double> times)
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
            ["Artemis:Agents:PollMilliseconds"] = "20",
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
            for (var i = 0; i < cards; i++)
            {
                var stopwatch = Stopwatch.StartNew();
                using var created = await api.PostAsJsonAsync("api/cards", new { title = $"pipeline bench ({developers} developers)", description = "write solution.txt", workspace = source, testCommand = "test -f solution.txt" });
                created.EnsureSuccessStatusCode();
                var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                var store = app.Services.GetRequiredService<CardStore>();
                Card card;
                while (!(card = await store.GetAsync(id, CancellationToken.None)).Stage.IsFinished())
                {
                    await Task.Delay(5);
                }

                stopwatch.Stop();
                if (card.Stage != CardStage.Done)
                {
                    throw new InvalidOperationException($"the bench card ended {card.Stage}: {card.ResultReason}");
                }

                times.Add(stopwatch.Elapsed.TotalMilliseconds);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
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
