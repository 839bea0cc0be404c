using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Artemis.AppHost.LocalServers;
using Artemis.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.AppHost.Tests.LocalServers;

/// <summary>
/// An Aspire app with only the local servers, built by the real LocalServers integration and run by the real DCP:
/// the same code path as the AppHost, with a state folder and passwords of the test's choosing.
/// </summary>
internal sealed class LocalServersApp : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private LocalServersApp(DistributedApplication app) => App = app;

    public DistributedApplication App { get; }

    public static async Task<LocalServersApp> StartAsync(
        TestState state, Action<IDistributedApplicationTestingBuilder> addResources, params string[] settings)
    {
        string[] args =
        [
            $"--{LocalServerPaths.StateDirectoryKey}={state.Directory}",
            $"--Parameters:{ResourceNames.Redis}-password={state.RedisPassword}",
            $"--Parameters:{ResourceNames.Postgres}-password={state.PostgresPassword}",
            .. settings.Select(setting => "--" + setting),
        ];
        var builder = DistributedApplicationTestingBuilder.Create(args);
        addResources(builder);
        var app = builder.Build();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.StartAsync(timeout.Token);
        return new LocalServersApp(app);
    }

    public static Task<LocalServersApp> StartRedisAsync(TestState state, params string[] settings) =>
        StartAsync(state, builder => builder.AddArtemisRedis(ResourceNames.Redis), settings);

    public static Task<LocalServersApp> StartPostgresAsync(TestState state, params string[] settings) =>
        StartAsync(state, builder => builder.AddArtemisPostgres(ResourceNames.Postgres).AddDatabase(ResourceNames.Database), settings);

    public async Task WaitHealthyAsync(string resource)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
    }

    public async Task<string> ConnectionStringAsync(string resource)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        return await App.GetConnectionStringAsync(resource, timeout.Token)
            ?? throw new InvalidOperationException($"{resource} has no connection string");
    }

    /// <summary>Waits for the resource to fail to start and returns its log, which must say why.</summary>
    public async Task<string> WaitFailedAsync(string resource)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(resource, KnownResourceStates.FailedToStart, timeout.Token);
        return await LogAsync(resource);
    }

    /// <summary>Everything the resource has logged so far (the console of its process and our own lines).</summary>
    public async Task<string> LogAsync(string resource, string? until = null)
    {
        var loggers = App.Services.GetRequiredService<ResourceLoggerService>();
        // Executables log under their DCP names (redis-abcd1234): watch through the model resource.
        var model = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == resource);
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(until is null ? TimeSpan.FromSeconds(2) : StartTimeout);
        try
        {
            await foreach (var batch in loggers.WatchAsync(model).WithCancellation(timeout.Token))
            {
                lines.AddRange(batch.Select(line => line.Content));
                if (until is not null && lines.Any(line => line.Contains(until, StringComparison.Ordinal)))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // The backlog has been read; a missing expected line fails the caller's assertion.
        }

        return string.Join('\n', lines);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>A fresh state folder and passwords for one test; the folder is removed afterwards.</summary>
internal sealed class TestState : IDisposable
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "artemis-tests", Guid.NewGuid().ToString("N"));

    public string RedisPassword { get; set; } = "redis-" + Guid.NewGuid().ToString("N");

    public string PostgresPassword { get; set; } = "pg-" + Guid.NewGuid().ToString("N");

    public string DataDirectory(string resource) => Path.Combine(Directory, resource);

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
