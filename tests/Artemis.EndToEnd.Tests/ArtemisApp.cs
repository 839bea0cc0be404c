using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Artemis.AppHost.LocalServers;
using Artemis.AppHost.Model;
using Artemis.ServiceDefaults;

namespace Artemis.EndToEnd.Tests;

/// <summary>
/// The real AppHost (Program.cs, every resource) run by Aspire.Hosting.Testing with a state folder and secrets of
/// its own, so a test run never touches the developer's data or user secrets.
/// </summary>
public sealed class ArtemisApp : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public static readonly string[] AllResources =
    [
        ResourceNames.Redis, ResourceNames.Postgres, ResourceNames.Database,
        ResourceNames.Model + ModelBuilderExtensions.SimulatorSuffix, ResourceNames.Model, ResourceNames.Agents, ResourceNames.Web,
    ];

    private ArtemisApp(DistributedApplication app, string stateDirectory, string runId, string apiKey)
    {
        App = app;
        StateDirectory = stateDirectory;
        RunId = runId;
        ApiKey = apiKey;
    }

    public DistributedApplication App { get; }

    public string StateDirectory { get; }

    /// <summary>Set in the environment of this app's services, to find their processes.</summary>
    public string RunId { get; }

    public string ApiKey { get; }

    public const string RunIdVariable = "ARTEMIS_TEST_RUN";

    public static async Task<ArtemisApp> StartAsync()
    {
        var stateDirectory = Path.Combine(Path.GetTempPath(), "artemis-e2e", Guid.NewGuid().ToString("N"));
        var runId = Guid.NewGuid().ToString("N");
        var apiKey = "e2e-" + Guid.NewGuid().ToString("N");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Artemis_AppHost>(
        [
            $"--{LocalServerPaths.StateDirectoryKey}={stateDirectory}",
            $"--Parameters:{ResourceNames.Redis}-password=redis-{Guid.NewGuid():N}",
            $"--Parameters:{ResourceNames.Postgres}-password=pg-{Guid.NewGuid():N}",
            $"--Parameters:{ResourceNames.AgentsApiKey}={apiKey}",
        ]);
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithEnvironment(RunIdVariable, runId);
            if (project.Name == ResourceNames.Agents)
            {
                // Tests hold cards in planning on purpose; the rest must not queue behind them.
                builder.CreateResourceBuilder(project).WithEnvironment("Artemis__Agents__MaxConcurrentCards", "16");
            }
        }

        var app = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await app.StartAsync(timeout.Token);
        }
        catch
        {
            // A start that failed still started DCP and some resources: stop them, or they outlive this test class.
            await app.DisposeAsync();
            throw;
        }

        return new ArtemisApp(app, stateDirectory, runId, apiKey);
    }

    public async Task WaitAllHealthyAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        foreach (var resource in AllResources)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
        }
    }

    public HttpClient CreateClient(string resource, string? apiKey = null)
    {
        var client = App.CreateHttpClient(resource);
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, apiKey);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        if (Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
    }
}
