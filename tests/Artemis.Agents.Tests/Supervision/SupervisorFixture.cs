using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Persistence;
using Artemis.Agents.Supervision;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Artemis.Agents.Tests.Supervision;

[CollectionDefinition(Name)]
public sealed class SupervisorGroup : ICollectionFixture<SupervisorFixture>
{
    public const string Name = "supervisor";
}

/// <summary>
/// The whole Agents service (every feature, the supervisor included) on real PostgreSQL and Redis, with the model
/// simulator running the offline demo's own script, so the tests run exactly the demo's card; and the means to start
/// more replicas in-process or as separate processes that a test can kill.
/// </summary>
public class SupervisorFixture : IAsyncLifetime
{
    public const string ApiKey = "supervisor-test-key-0123456789";
    public const string ModelKey = "sk-supervisor-test";

    private readonly string _state = Path.Combine(Path.GetTempPath(), "artemis-supervisor-tests", Guid.NewGuid().ToString("N"));
    private TestServers? _servers;
    private WebApplication? _simulator;

    public Dictionary<string, string?> Settings { get; private set; } = [];

    public WebApplication App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public HttpClient Simulator { get; private set; } = null!;

    public NpgsqlDataSource Database => App.Services.GetRequiredService<NpgsqlDataSource>();

    public string WorkspaceRoot => Path.Combine(_state, "workspaces");

    /// <summary>False: the fixture's own replica serves the API only, and a test brings the supervisors.</summary>
    protected virtual bool MainReplicaSupervises => true;

    public static string DemoScript => Path.Combine(AppContext.BaseDirectory, "Scripts", "offline-demo.json");

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Directory.CreateDirectory(WorkspaceRoot);
        // The sandbox user reaches workspaces through these folders.
        File.SetUnixFileMode(_state, (UnixFileMode)0b111_101_101);
        _servers = await TestServers.StartAsync(Path.Combine(_state, "servers"), timeout.Token);
        _simulator = SimulatorApp.Build(["--urls=http://127.0.0.1:0", $"--Simulator:ApiKey={ModelKey}", $"--Simulator:ScriptPath={DemoScript}",
            "--Simulator:MaxLoggedRequests=10000", "--Logging:LogLevel:Default=Warning"]);
        await _simulator.StartAsync(timeout.Token);
        var simulator = SimulatorApp.BaseAddress(_simulator);
        Simulator = new HttpClient { BaseAddress = simulator, Timeout = TimeSpan.FromSeconds(30) };
        Settings = new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = _servers.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = _servers.Redis,
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={simulator}v1;Key={ModelKey};Model=gpt-4o-mini",
            [ResourceNames.ApiKeyConfigKey] = ApiKey,
            ["Artemis:Budget:DailyUsd"] = "1000",
            ["Artemis:Budget:MonthlyUsd"] = "10000",
            ["Artemis:Budget:PerCardUsd"] = "5",
            ["Artemis:Workspace:Root"] = WorkspaceRoot,
            ["Artemis:Agents:ParallelDevelopers"] = "2",
            ["Artemis:Agents:LeaseSeconds"] = "3",
            ["Artemis:Agents:PollMilliseconds"] = "100",
            ["Artemis:Agents:MaxConcurrentCards"] = "4",
            ["Artemis:Model:MaxRetries"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        App = await StartReplicaAsync(timeout.Token, new Dictionary<string, string?> { ["Artemis:Agents:Supervise"] = MainReplicaSupervises ? "true" : "false" });
        Client = new HttpClient { BaseAddress = SimulatorApp.BaseAddress(App), Timeout = TimeSpan.FromSeconds(30) };
        Client.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, ApiKey);
        Client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>Another replica of the service on the same servers, in this process; the caller stops and disposes it.</summary>
    public async Task<WebApplication> StartReplicaAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(AgentsApplication).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(Settings);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.AddArtemisAgents();
        var app = builder.Build();
        app.MapArtemisAgents();
        await app.StartAsync(cancellationToken);
        await app.Services.GetRequiredService<DatabaseMigrator>().Completed.WaitAsync(cancellationToken);
        await app.Services.GetRequiredService<BudgetReconciler>().Completed.WaitAsync(cancellationToken);
        return app;
    }

    /// <summary>The offline demo's sample project in a fresh folder, as a card's source workspace.</summary>
    public string NewSampleProject()
    {
        var folder = Path.Combine(_state, "projects", Guid.NewGuid().ToString("N"));
        OfflineDemoSample.WriteProject(folder);
        return folder;
    }

    public async Task<Card> CreateSampleCardAsync(string? title = null)
    {
        using var response = await Client.PostAsJsonAsync("api/cards", new
        {
            title = title ?? OfflineDemoSample.Title,
            description = OfflineDemoSample.Description,
            workspace = NewSampleProject(),
            testCommand = OfflineDemoSample.TestCommand,
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<Card>())!;
    }

    /// <summary>Polls the card until it has finished; fails with its last state after <paramref name="seconds"/>.</summary>
    public async Task<CardDetails> WaitFinishedAsync(string cardId, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        CardDetails? details = null;
        while (DateTime.UtcNow < deadline)
        {
            details = await Client.GetFromJsonAsync<CardDetails>($"api/cards/{cardId}");
            if (details!.Card.Stage.IsFinished())
            {
                return details;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"card {cardId} did not finish in {seconds} s: {System.Text.Json.JsonSerializer.Serialize(details)}");
        return null!;
    }

    /// <summary>The simulator's log entries of requests about <paramref name="cardId"/> (its id is in every prompt).</summary>
    public async Task<List<JsonObject>> ModelRequestsAsync(string cardId) =>
        [.. (await Simulator.GetFromJsonAsync<JsonArray>("_sim/requests"))!
            .Select(entry => entry!.AsObject())
            .Where(entry => entry["messages"]!.AsArray().Any(message => message!["content"]?.ToString().Contains($"Card {cardId}", StringComparison.Ordinal) == true))];

    public async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>The card's stage moves, in order, as "From→To".</summary>
    public async Task<List<string>> StageMovesAsync(string cardId)
    {
        await using var command = Database.CreateCommand(
            "SELECT payload->>'from', payload->>'to' FROM events WHERE card_id = $1 AND kind = 'card.stage' ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter { Value = cardId });
        var moves = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            moves.Add($"{reader.GetString(0)}→{reader.GetString(1)}");
        }

        return moves;
    }

    /// <summary>
    /// The service as a separate process (<c>dotnet Artemis.Agents.dll</c>) on the same servers, configured through
    /// environment variables as the AppHost does: a replica a test can kill with SIGKILL.
    /// </summary>
    public System.Diagnostics.Process StartProcessReplica()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Artemis.Agents.dll"));
        start.ArgumentList.Add("--urls=http://127.0.0.1:0");
        foreach (var key in start.Environment.Keys.Where(key => key.StartsWith("Artemis__", StringComparison.Ordinal) || key.StartsWith("ConnectionStrings__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in Settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["Artemis__Agents__Supervise"] = "true";
        var process = System.Diagnostics.Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        Simulator?.Dispose();
        if (App is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await App.StopAsync(timeout.Token);
            await App.DisposeAsync();
        }

        if (_simulator is not null)
        {
            await _simulator.StopAsync();
            await _simulator.DisposeAsync();
        }

        if (_servers is not null)
        {
            await _servers.DisposeAsync();
        }

        Directory.Delete(_state, recursive: true);
    }
}
