using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Artemis.Agents.Costs;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Artemis.Agents.Tests.Models;

/// <summary>
/// The Agents service's model pipeline as it runs in the service (AddModels, AddCosts, AddPersistence) against the
/// real model simulator over loopback and a real PostgreSQL started by the LocalServers integration.
/// </summary>
public sealed class ModelPipelineFixture : IAsyncLifetime
{
    public const string Model = "gpt-4o-mini";
    public const string Key = "sk-pipeline-test";

    private readonly string _state = Path.Combine(Path.GetTempPath(), "artemis-agents-tests", Guid.NewGuid().ToString("N"));
    private TestServers? _servers;
    private WebApplication? _simulator;
    private IHost? _host;

    public HttpClient Simulator { get; private set; } = null!;

    public IServiceProvider Services => _host!.Services;

    public IChatClient Chat => Services.GetRequiredService<IChatClient>();

    public NpgsqlDataSource Database => Services.GetRequiredService<NpgsqlDataSource>();

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Directory.CreateDirectory(_state);
        _servers = await TestServers.StartAsync(_state, timeout.Token);
        var database = _servers.Database;
        var redis = _servers.Redis;

        _simulator = SimulatorApp.Build(["--urls=http://127.0.0.1:0", $"--Simulator:ApiKey={Key}", "--Logging:LogLevel:Default=Warning"]);
        await _simulator.StartAsync(timeout.Token);
        var simulator = SimulatorApp.BaseAddress(_simulator);
        Simulator = new HttpClient { BaseAddress = simulator, Timeout = TimeSpan.FromSeconds(30) };

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = redis,
            ["Artemis:Budget:DailyUsd"] = "1000",
            ["Artemis:Budget:MonthlyUsd"] = "10000",
            ["Artemis:Budget:PerCardUsd"] = "2",
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={simulator}v1;Key={Key};Model={Model}",
            ["Artemis:Model:MaxOutputTokens"] = "1000",
            ["Artemis:Model:MaxRetries"] = "3",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCosts();
        builder.AddModels();
        _host = builder.Build();
        await _host.StartAsync(timeout.Token);
        await Services.GetRequiredService<DatabaseMigrator>().Completed.WaitAsync(timeout.Token);
        await Services.GetRequiredService<BudgetReconciler>().Completed.WaitAsync(timeout.Token);
    }

    /// <summary>A test's clean start: its script, and an empty request log.</summary>
    public async Task ResetAsync(string script)
    {
        using var put = await Simulator.PutAsync("_sim/script", new StringContent(script, Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        using var clear = await Simulator.DeleteAsync("_sim/requests");
        Assert.Equal(HttpStatusCode.NoContent, clear.StatusCode);
    }

    public async Task<JsonArray> SimulatorRequestsAsync() => (await Simulator.GetFromJsonAsync<JsonArray>("_sim/requests"))!;

    /// <summary>The ledger's rows for one card: each test attributes its calls to a card of its own.</summary>
    public async Task<List<LedgerRow>> LedgerAsync(string cardId)
    {
        // Entries settled calls queued are moved in first, as every reader of the ledger does.
        await Services.GetRequiredService<CostLedger>().DrainAsync(CancellationToken.None);
        await using var command = Database.CreateCommand(
            "SELECT call_id, model, input_tokens, cached_input_tokens, output_tokens, cost_usd, estimated FROM cost_entries WHERE card_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = cardId });
        var rows = new List<LedgerRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new LedgerRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetDecimal(5), reader.GetBoolean(6)));
        }

        return rows;
    }

    public static ChatOptions For(string cardId, ChatOptions? options = null) =>
        new CostAttribution(cardId, "development", "developer-1").ApplyTo(options);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_simulator is not null)
        {
            await _simulator.StopAsync();
            await _simulator.DisposeAsync();
        }

        Simulator?.Dispose();
        if (_servers is not null)
        {
            await _servers.DisposeAsync();
        }

        Directory.Delete(_state, recursive: true);
    }
}

public sealed record LedgerRow(string CallId, string Model, long InputTokens, long CachedInputTokens, long OutputTokens, decimal Usd, bool Estimated);
