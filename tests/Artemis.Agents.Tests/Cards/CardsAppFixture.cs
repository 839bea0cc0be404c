using System.Net.Http.Headers;
using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Messaging;
using Artemis.Agents.Persistence;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;

namespace Artemis.Agents.Tests.Cards;

/// <summary>
/// The Agents service's cards and messaging features behind its real HTTP pipeline (API key, problem details, the
/// exception handler) on Kestrel at 127.0.0.1:0, against a real PostgreSQL and Redis started by the AppHost's
/// LocalServers integration.
/// </summary>
public sealed class CardsAppFixture : IAsyncLifetime
{
    public const string ApiKey = "cards-test-key-0123456789";
    public const decimal PerCardUsd = 5m;

    private readonly string _state = Path.Combine(Path.GetTempPath(), "artemis-cards-tests", Guid.NewGuid().ToString("N"));
    private TestServers? _servers;
    private WebApplication? _app;
    private string? _database;
    private string? _redis;

    /// <summary>Folders a test may use as workspaces; removed with the fixture.</summary>
    public string Scratch => Path.Combine(_state, "scratch");

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    public NpgsqlDataSource Database => Services.GetRequiredService<NpgsqlDataSource>();

    public IDatabase Redis => Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

    public EventPublisher Publisher => Services.GetRequiredService<EventPublisher>();

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Directory.CreateDirectory(Scratch);
        _servers = await TestServers.StartAsync(_state, timeout.Token);

        _database = _servers.Database;
        _redis = _servers.Redis;
        _app = await StartAppAsync(timeout.Token);
        BaseAddress = AddressOf(_app);
        Client = NewClient();
    }

    /// <summary>
    /// Another instance of the service on the same servers (a replica): the caller stops and disposes it.
    /// </summary>
    public async Task<WebApplication> StartAppAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // Hosted by a test, the entry assembly is the test host's.
            ApplicationName = typeof(CardsApi).Assembly.GetName().Name,
            Args = ["--urls=http://127.0.0.1:0"],
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = _database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = _redis,
            [ResourceNames.ApiKeyConfigKey] = ApiKey,
            ["Artemis:Budget:PerCardUsd"] = PerCardUsd.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Small batches and a short heartbeat, so the tests go through the catch-up and heartbeat paths.
            ["Artemis:Messaging:ReadBatchSize"] = "10",
            ["Artemis:Messaging:PollMilliseconds"] = "200",
            ["Artemis:Messaging:SubscriberQueueLength"] = "16",
            ["Artemis:Messaging:HeartbeatSeconds"] = "1",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCards();
        builder.AddApi();
        var app = builder.Build();
        app.UseApi();
        app.MapCardsApi();
        await app.StartAsync(cancellationToken);
        await app.Services.GetRequiredService<DatabaseMigrator>().Completed.WaitAsync(cancellationToken);
        return app;
    }

    public static Uri AddressOf(WebApplication app)
    {
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>A client that sends the API key (or none, with <paramref name="apiKey"/> null).</summary>
    public HttpClient NewClient(string? apiKey = ApiKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, apiKey);
        }

        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>A fresh folder to use as a card's workspace.</summary>
    public string NewWorkspace()
    {
        var folder = Path.Combine(Scratch, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "README.md"), "a project");
        return folder;
    }

    public async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }

        if (_servers is not null)
        {
            await _servers.DisposeAsync();
        }

        Directory.Delete(_state, recursive: true);
    }
}

/// <summary>The card and messaging tests share one app and its servers, and run one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class CardsAppGroup : ICollectionFixture<CardsAppFixture>
{
    public const string Name = "Cards app";
}
