using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Artemis.AppHost.LocalServers;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;

namespace Artemis.Benchmarks;

/// <summary>Real Redis and PostgreSQL (LocalServers) and the model simulator on loopback, for one benchmark run.</summary>
internal sealed class BenchInfrastructure : IAsyncDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "artemis-bench", Guid.NewGuid().ToString("N"));
    private DistributedApplication? _servers;
    private WebApplication? _simulator;

    public string Database { get; private set; } = "";
    public string Redis { get; private set; } = "";
    public Uri SimulatorV1 { get; private set; } = null!;
    public const string SimulatorKey = "sk-bench";

    public static async Task<BenchInfrastructure> StartAsync()
    {
        var infrastructure = new BenchInfrastructure();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Directory.CreateDirectory(infrastructure._state);
        var servers = DistributedApplicationTestingBuilder.Create(
            $"--{LocalServerPaths.StateDirectoryKey}={infrastructure._state}",
            $"--Parameters:{ResourceNames.Postgres}-password=pg-{Guid.NewGuid():N}",
            $"--Parameters:{ResourceNames.Redis}-password=redis-{Guid.NewGuid():N}");
        servers.AddArtemisPostgres(ResourceNames.Postgres).AddDatabase(ResourceNames.Database);
        servers.AddArtemisRedis(ResourceNames.Redis);
        infrastructure._servers = servers.Build();
        await infrastructure._servers.StartAsync(timeout.Token);
        await infrastructure._servers.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Database, timeout.Token);
        await infrastructure._servers.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Redis, timeout.Token);
        infrastructure.Database = (await infrastructure._servers.GetConnectionStringAsync(ResourceNames.Database, timeout.Token))!;
        infrastructure.Redis = (await infrastructure._servers.GetConnectionStringAsync(ResourceNames.Redis, timeout.Token))!;

        infrastructure._simulator = SimulatorApp.Build(
            ["--urls=http://127.0.0.1:0", $"--Simulator:ApiKey={SimulatorKey}", "--Logging:LogLevel:Default=Warning"]);
        await infrastructure._simulator.StartAsync(timeout.Token);
        infrastructure.SimulatorV1 = new Uri(SimulatorApp.BaseAddress(infrastructure._simulator), "v1");
        return infrastructure;
    }

    public async ValueTask DisposeAsync()
    {
        if (_simulator is not null)
        {
            await _simulator.StopAsync();
            await _simulator.DisposeAsync();
        }

        if (_servers is not null)
        {
            await _servers.StopAsync();
            await _servers.DisposeAsync();
        }

        Directory.Delete(_state, recursive: true);
    }
}
