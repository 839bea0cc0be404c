using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Artemis.AppHost.LocalServers;
using Artemis.ServiceDefaults;

namespace Artemis.Agents.Tests;

/// <summary>
/// A real PostgreSQL (with <c>artemisdb</c>) and Redis for one fixture, started by the AppHost's own LocalServers
/// integration with fresh passwords and data under the fixture's state folder: the way every functional test gets
/// its servers.
/// </summary>
public sealed class TestServers : IAsyncDisposable
{
    private readonly DistributedApplication _servers;

    private TestServers(DistributedApplication servers, string database, string redis)
    {
        _servers = servers;
        Database = database;
        Redis = redis;
    }

    /// <summary>The connection string of <c>artemisdb</c>.</summary>
    public string Database { get; }

    public string Redis { get; }

    public static async Task<TestServers> StartAsync(string stateDirectory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(stateDirectory);
        var builder = DistributedApplicationTestingBuilder.Create(
            $"--{LocalServerPaths.StateDirectoryKey}={stateDirectory}", $"--Parameters:{ResourceNames.Postgres}-password=pg-{Guid.NewGuid():N}",
            $"--Parameters:{ResourceNames.Redis}-password=redis-{Guid.NewGuid():N}");
        builder.AddArtemisPostgres(ResourceNames.Postgres).AddDatabase(ResourceNames.Database);
        builder.AddArtemisRedis(ResourceNames.Redis);
        var servers = builder.Build();
        await servers.StartAsync(cancellationToken);
        await servers.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Database, cancellationToken);
        await servers.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Redis, cancellationToken);
        return new TestServers(
            servers,
            (await servers.GetConnectionStringAsync(ResourceNames.Database, cancellationToken))!,
            (await servers.GetConnectionStringAsync(ResourceNames.Redis, cancellationToken))!);
    }

    public async ValueTask DisposeAsync()
    {
        await _servers.StopAsync();
        await _servers.DisposeAsync();
    }
}
