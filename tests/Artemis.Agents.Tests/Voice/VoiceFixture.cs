using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Voice;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Artemis.Agents.Tests.Voice;

[CollectionDefinition(Name)]
public sealed class VoiceTestGroup : ICollectionFixture<VoiceFixture>
{
    /// <summary>One collection: the voice tests share the day's budget window, so they run one at a time.</summary>
    public const string Name = "voice";
}

/// <summary>
/// The voice bridge as the service runs it (AddPersistence, AddMessaging, AddCosts, AddModels, AddApi, AddVoice on a
/// real Kestrel on loopback) against the model simulator's realtime endpoint, with real PostgreSQL and Redis started
/// by the LocalServers integration, the same way as <c>ModelPipelineFixture</c>.
/// </summary>
public sealed class VoiceFixture : IAsyncLifetime
{
    public const string ChatModel = "gpt-4o-mini";
    public const string RealtimeModel = "gpt-realtime";
    public const string ModelKey = "sk-voice-test";
    public const string ApiKey = "voice-test-api-key-0123456789";
    public const int SendQueueCapacity = 64;
    public const int MaxAudioFrameBytes = 16 * 1024;

    private readonly string _state = Path.Combine(Path.GetTempPath(), "artemis-voice-tests", Guid.NewGuid().ToString("N"));
    private TestServers? _servers;
    private WebApplication? _simulator;
    private Dictionary<string, string?> _settings = [];

    public WebApplication Bridge { get; private set; } = null!;

    public Uri BridgeAddress { get; private set; } = null!;

    public HttpClient Simulator { get; private set; } = null!;

    public string Workspace { get; } = Path.Combine(Path.GetTempPath(), "artemis-voice-workspace-" + Guid.NewGuid().ToString("N"));

    public IServiceProvider Services => Bridge.Services;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Directory.CreateDirectory(_state);
        Directory.CreateDirectory(Path.Combine(Workspace, "docs"));
        await File.WriteAllTextAsync(Path.Combine(Workspace, "README.md"), "# Workspace readme\nHello from the workspace.\n");
        await File.WriteAllTextAsync(Path.Combine(Workspace, "docs", "notes.txt"), "notes");

        _servers = await TestServers.StartAsync(_state, timeout.Token);

        _simulator = SimulatorApp.Build(["--urls=http://127.0.0.1:0", $"--Simulator:ApiKey={ModelKey}", "--Logging:LogLevel:Default=Warning"]);
        await _simulator.StartAsync(timeout.Token);
        var simulator = SimulatorApp.BaseAddress(_simulator);
        Simulator = new HttpClient { BaseAddress = simulator, Timeout = TimeSpan.FromSeconds(30) };

        _settings = new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = _servers.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = _servers.Redis,
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={simulator}v1;Key={ModelKey};Model={ChatModel};RealtimeModel={RealtimeModel}",
            ["Artemis:Api:Key"] = ApiKey,
            ["Artemis:Budget:DailyUsd"] = "1000",
            ["Artemis:Budget:MonthlyUsd"] = "10000",
            ["Artemis:Budget:PerCardUsd"] = "2",
            ["Artemis:Workspace:Root"] = Workspace,
            ["Artemis:Voice:VadSilenceDurationMs"] = "200",
            ["Artemis:Voice:TranscriptionModel"] = "gpt-4o-mini-transcribe",
            ["Artemis:Voice:SendQueueCapacity"] = SendQueueCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Artemis:Voice:MaxAudioFrameBytes"] = MaxAudioFrameBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Artemis:Voice:MaxOutputTokens"] = "1000",
            ["Artemis:Voice:SendStallTimeoutMs"] = "1000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        (Bridge, BridgeAddress) = await StartBridgeAsync(timeout.Token);
        await Services.GetRequiredService<DatabaseMigrator>().Completed.WaitAsync(timeout.Token);
        await Services.GetRequiredService<BudgetReconciler>().Completed.WaitAsync(timeout.Token);
    }

    /// <summary>A bridge as Program.cs builds it; tests of shutdown start one of their own.</summary>
    public async Task<(WebApplication App, Uri Address)> StartBridgeAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(VoiceApi).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(_settings);
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCosts();
        builder.AddModels();
        builder.AddCards();
        builder.AddFiles();
        builder.AddApi();
        builder.AddVoice();
        var app = builder.Build();
        app.UseVoice();
        app.UseApi();
        app.MapVoiceApi();
        await app.StartAsync(cancellationToken);
        return (app, SimulatorApp.BaseAddress(app));
    }

    /// <summary>A test's clean start: its script, and an empty request log.</summary>
    public async Task ResetAsync(string script)
    {
        using var put = await Simulator.PutAsync("_sim/script", new StringContent(script, Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        using var clear = await Simulator.DeleteAsync("_sim/requests");
        Assert.Equal(HttpStatusCode.NoContent, clear.StatusCode);
    }

    /// <summary>The simulator's realtime log entries, oldest first.</summary>
    public async Task<List<JsonObject>> RealtimeLogAsync() =>
        [.. (await Simulator.GetFromJsonAsync<JsonArray>("_sim/requests"))!
            .Select(entry => entry!.AsObject())
            .Where(entry => (string?)entry["path"] == "/v1/realtime")];

    public async Task<List<JsonObject>> RealtimeResponsesAsync() =>
        [.. (await RealtimeLogAsync()).Where(entry => (string?)entry["realtime"]!["event"] == "response")];

    public async Task<List<VoiceLedgerRow>> LedgerAsync(IEnumerable<string> callIds)
    {
        await Services.GetRequiredService<CostLedger>().DrainAsync(CancellationToken.None);
        await using var command = Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT call_id, model, stage, agent, input_tokens, cached_input_tokens, output_tokens, audio_input_tokens, audio_output_tokens, cost_usd, estimated "
            + "FROM cost_entries WHERE call_id = ANY($1) ORDER BY occurred_at");
        command.Parameters.Add(new NpgsqlParameter { Value = callIds.ToArray() });
        var rows = new List<VoiceLedgerRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new VoiceLedgerRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetDecimal(9), reader.GetBoolean(10)));
        }

        return rows;
    }

    /// <summary>Takes what is left of today's budget, so that no response can be reserved; dispose to give it back.</summary>
    public async Task<IAsyncDisposable> ExhaustBudgetAsync(decimal leaveUsd = 0m)
    {
        var guard = Services.GetRequiredService<BudgetGuard>();
        var windows = Services.GetRequiredService<BudgetWindows>().For(null);
        var day = windows[0];
        var state = await guard.StateAsync(day);
        var id = "test-filler-" + Guid.NewGuid().ToString("N");
        await guard.ReserveAsync(id, [day], day.LimitUsd - state.SpentUsd - state.ReservedUsd - leaveUsd, TimeSpan.FromMinutes(5));
        return new Filler(() => guard.ReleaseAsync(id, [day]));
    }

    public Task<VoiceClient> ConnectAsync() => VoiceClient.ConnectAsync(BridgeAddress, ApiKey);

    public async Task DisposeAsync()
    {
        await Bridge.StopAsync();
        await Bridge.DisposeAsync();
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
        Directory.Delete(Workspace, recursive: true);
    }

    private sealed class Filler(Func<Task> release) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await release();
    }
}

public sealed record VoiceLedgerRow(string CallId, string Model, string Stage, string Agent, long InputTokens, long CachedInputTokens, long OutputTokens,
    long AudioInputTokens, long AudioOutputTokens, decimal Usd, bool Estimated);
