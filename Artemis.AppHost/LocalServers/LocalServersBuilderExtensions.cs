using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Artemis.AppHost.LocalServers;

/// <summary>
/// Redis and PostgreSQL for Artemis. In run mode they are local processes from Debian's packages (this machine has
/// no container engine); in publish mode, and in run mode with <c>Artemis:Infrastructure=Containers</c>, they are
/// Aspire's own container resources, so the manifest and azd see the standard <c>container.v0</c> resources.
/// </summary>
public static class LocalServersBuilderExtensions
{
    public const string InfrastructureKey = "Artemis:Infrastructure";
    public const string ContainersInfrastructure = "Containers";

    private const string PostgresAccount = "postgres";

    /// <summary>True when this app model uses local processes rather than Aspire's containers.</summary>
    public static bool UsesLocalServers(this IDistributedApplicationBuilder builder) =>
        builder.ExecutionContext.IsRunMode
        && !string.Equals(builder.Configuration[InfrastructureKey], ContainersInfrastructure, StringComparison.OrdinalIgnoreCase);

    public static IResourceBuilder<IResourceWithConnectionString> AddArtemisRedis(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        if (!builder.UsesLocalServers())
        {
            return builder.AddRedis(name, port);
        }

        // StackExchange.Redis cannot carry commas in a password, as Aspire's own Redis notes.
        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var program = DebianBinaries.FindRedis(builder.Configuration);
        var redis = new LocalRedisResource(name, program ?? "redis-server", LocalServerPaths.DataDirectory(builder, name), password);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, ct) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(ct));

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (@event, ct) =>
        {
            var logger = ResourceLogger(@event.Services, redis);
            await Preflight(logger, async () =>
            {
                if (program is null)
                {
                    throw new LocalServerException(LocalServerMessages.MissingProgram(
                        name, builder.Configuration[DebianBinaries.RedisServerKey] ?? "redis-server", DebianBinaries.RedisPackage));
                }

                EnsurePortFree(name, port);
                EnsureDirectory(name, redis.DataDirectory);
                await WriteRedisConfigAsync(redis, ct);
            });
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException("Connection string is unavailable"), name: healthCheckKey);

        return builder.AddResource(redis)
            .WithEndpoint(port: port, name: LocalRedisResource.PrimaryEndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                // Everything but the port lives in the 0600 config file: arguments are visible to every local user.
                context.Args.Add(redis.ConfigFile);
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
            })
            .WithIconName("Memory")
            .WithHealthCheck(healthCheckKey);
    }

    public static ArtemisPostgresBuilder AddArtemisPostgres(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        if (!builder.UsesLocalServers())
        {
            return new ArtemisPostgresBuilder(builder.AddPostgres(name, port: port));
        }

        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password");
        var installation = DebianBinaries.FindPostgres(builder.Configuration);
        var dropToPostgresUser = UnixAccounts.IsRoot;
        var postgresProgram = installation?.Postgres ?? "postgres";
        var command = dropToPostgresUser ? DebianBinaries.FindOnPath("setpriv") ?? "setpriv" : postgresProgram;
        var server = new LocalPostgresServerResource(
            name, command, LocalServerPaths.DataDirectory(builder, name), password, installation, dropToPostgresUser);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(server, async (_, ct) =>
            connectionString = await server.ConnectionStringExpression.GetValueAsync(ct));

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, async (@event, ct) =>
        {
            var logger = ResourceLogger(@event.Services, server);
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            try
            {
                await Preflight(logger, async () =>
                {
                    EnsurePortFree(name, port);
                    await PostgresCluster.PrepareAsync(server, PostgresAccount, logger, ct);
                });
            }
            catch (LocalServerException)
            {
                foreach (var database in DatabasesOf(builder, server))
                {
                    await notifications.PublishUpdateAsync(database, s => s with { State = KnownResourceStates.FailedToStart });
                }

                throw;
            }
        });

        builder.Eventing.Subscribe<ResourceReadyEvent>(server, async (@event, ct) =>
        {
            var logger = ResourceLogger(@event.Services, server);
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            foreach (var database in DatabasesOf(builder, server))
            {
                try
                {
                    await PostgresCluster.CreateDatabaseAsync(connectionString!, database.DatabaseName, ct);
                    await notifications.PublishUpdateAsync(database, s => s with
                    {
                        State = KnownResourceStates.Running,
                        StartTimeStamp = DateTime.UtcNow,
                    });
                }
                catch (NpgsqlException exception)
                {
                    LocalServersLog.DatabaseNotCreated(logger, name, database.DatabaseName, exception.Message);
                    await notifications.PublishUpdateAsync(database, s => s with { State = KnownResourceStates.FailedToStart });
                }
            }
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            sp => new PostgresHealthCheck(server, () => connectionString is null ? null : connectionString + ";Database=postgres",
                () => ResourceLogger(sp, server)),
            failureStatus: default,
            tags: default));

        var resource = builder.AddResource(server)
            .WithEndpoint(port: port, name: LocalPostgresServerResource.PrimaryEndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                if (server.DropToPostgresUser)
                {
                    // setpriv execs postgres in place: DCP still owns the server's pid and stops it with the app.
                    context.Args.Add($"--reuid={PostgresAccount}");
                    context.Args.Add($"--regid={PostgresAccount}");
                    context.Args.Add("--init-groups");
                    context.Args.Add("--");
                    context.Args.Add(postgresProgram);
                }

                context.Args.Add("-D");
                context.Args.Add(server.DataDirectory);
                context.Args.Add("-p");
                context.Args.Add(server.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                // Loopback TCP only; no Unix socket, so nothing is left in /var/run/postgresql.
                context.Args.Add("-c");
                context.Args.Add("listen_addresses=localhost");
                context.Args.Add("-c");
                context.Args.Add("unix_socket_directories=");
            })
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheckKey);

        return new ArtemisPostgresBuilder(resource);
    }

    internal static IResourceBuilder<LocalPostgresDatabaseResource> AddLocalDatabase(
        IResourceBuilder<LocalPostgresServerResource> server, string name, string databaseName)
    {
        var builder = server.ApplicationBuilder;
        var database = new LocalPostgresDatabaseResource(name, databaseName, server.Resource);
        server.Resource.AddDatabase(name, databaseName);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, ct) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(ct));

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            sp => new PostgresHealthCheck(server.Resource, () => connectionString, () => ResourceLogger(sp, server.Resource)),
            failureStatus: default,
            tags: default));

        return builder.AddResource(database)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "PostgresDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [new(CustomResourceKnownProperties.Source, server.Resource.Name)],
            })
            .WithIconName("Database")
            .WithHealthCheck(healthCheckKey);
    }

    private static IEnumerable<LocalPostgresDatabaseResource> DatabasesOf(IDistributedApplicationBuilder builder, LocalPostgresServerResource server) =>
        builder.Resources.OfType<LocalPostgresDatabaseResource>().Where(database => database.Parent == server);

    private static ILogger ResourceLogger(IServiceProvider services, IResource resource) =>
        services.GetRequiredService<ResourceLoggerService>().GetLogger(resource);

    /// <summary>Runs the checks before a start; a failure is one clear line in the resource's log, then FailedToStart.</summary>
    private static async Task Preflight(ILogger logger, Func<Task> checks)
    {
        try
        {
            await checks();
        }
        catch (LocalServerException exception)
        {
            LocalServersLog.CannotStart(logger, exception.Message);
            throw;
        }
    }

    private static void EnsurePortFree(string resource, int? port)
    {
        if (port is not { } fixedPort)
        {
            return; // Aspire allocates a free port.
        }

        try
        {
            using var probe = new TcpListener(IPAddress.Loopback, fixedPort);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException)
        {
            throw new LocalServerException(LocalServerMessages.PortInUse(resource, fixedPort));
        }
    }

    internal static void EnsureDirectory(string resource, string directory)
    {
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new LocalServerException(LocalServerMessages.DataDirectoryUnusable(resource, directory, exception.Message));
        }
    }

    private static async Task WriteRedisConfigAsync(LocalRedisResource redis, CancellationToken cancellationToken)
    {
        var password = await redis.PasswordParameter.GetValueAsync(cancellationToken)
            ?? throw new LocalServerException($"{redis.Name}: the password parameter has no value");
        var config = string.Join('\n',
            "# Written by the Artemis AppHost at each start; edits are overwritten.",
            "bind 127.0.0.1 -::1",
            "protected-mode yes",
            $"dir {redis.DataDirectory}",
            "appendonly yes",
            "appendfsync everysec",
            "save \"\"",
            $"requirepass {password}",
            "");
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        await using var stream = new FileStream(redis.ConfigFile, options);
        await using var writer = new StreamWriter(stream);
        await writer.WriteAsync(config.AsMemory(), cancellationToken);
        // A file made by an earlier version with wider permissions keeps them on Create: narrow them.
        File.SetUnixFileMode(redis.ConfigFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    internal static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
