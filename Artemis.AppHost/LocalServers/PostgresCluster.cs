using Microsoft.Extensions.Logging;
using Npgsql;

namespace Artemis.AppHost.LocalServers;

/// <summary>The cluster in a local server's data folder: checked, and made with initdb on first start.</summary>
internal static class PostgresCluster
{
    public static async Task PrepareAsync(LocalPostgresServerResource server, string account, ILogger logger, CancellationToken cancellationToken)
    {
        var name = server.Name;
        if (server.Installation is not { } installation)
        {
            throw new LocalServerException(LocalServerMessages.MissingProgram(name, "postgres", DebianBinaries.PostgresPackage));
        }

        (uint Uid, uint Gid)? owner = null;
        if (server.DropToPostgresUser)
        {
            owner = UnixAccounts.Find(account) ?? throw new LocalServerException(LocalServerMessages.MissingAccount(name, account));
            if (DebianBinaries.FindOnPath("setpriv") is null)
            {
                throw new LocalServerException(LocalServerMessages.MissingProgram(name, "setpriv", "util-linux"));
            }
        }

        var dataDirectory = server.DataDirectory;
        var versionFile = Path.Combine(dataDirectory, "PG_VERSION");
        var exists = Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any();
        if (exists)
        {
            if (!File.Exists(versionFile))
            {
                throw new LocalServerException(LocalServerMessages.NotACluster(name, dataDirectory));
            }

            var clusterVersion = (await File.ReadAllTextAsync(versionFile, cancellationToken)).Trim();
            if (clusterVersion != LocalServersBuilderExtensions.Invariant(installation.Major))
            {
                throw new LocalServerException(LocalServerMessages.WrongVersion(name, dataDirectory, clusterVersion, installation.Major));
            }
        }
        else
        {
            LocalServersBuilderExtensions.EnsureDirectory(name, dataDirectory);
            if (owner is { } account1)
            {
                UnixAccounts.ChangeOwner(dataDirectory, account1);
            }
        }

        if (owner is not null)
        {
            await EnsureReachableAsync(server, account, cancellationToken);
        }

        if (!exists)
        {
            await InitDbAsync(server, installation, owner, account, logger, cancellationToken);
        }
    }

    private static async Task EnsureReachableAsync(LocalPostgresServerResource server, string account, CancellationToken cancellationToken)
    {
        var check = await ProcessRunner.RunAsync("setpriv",
            [$"--reuid={account}", $"--regid={account}", "--init-groups", "--", "test", "-w", server.DataDirectory, "-a", "-x", server.DataDirectory],
            cancellationToken);
        if (check.ExitCode != 0)
        {
            throw new LocalServerException(LocalServerMessages.Unreachable(server.Name, server.DataDirectory, account));
        }
    }

    private static async Task InitDbAsync(
        LocalPostgresServerResource server, PostgresInstallation installation, (uint Uid, uint Gid)? owner, string account,
        ILogger logger, CancellationToken cancellationToken)
    {
        var password = await server.PasswordParameter.GetValueAsync(cancellationToken)
            ?? throw new LocalServerException($"{server.Name}: the password parameter has no value");

        // initdb reads the superuser's password from a file the server's account can read, and nobody else.
        var passwordFile = Path.Combine(Path.GetTempPath(), $"artemis-pw-{Guid.NewGuid():N}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            await using (var stream = new FileStream(passwordFile, options))
            await using (var writer = new StreamWriter(stream))
            {
                await writer.WriteAsync(password);
            }

            if (owner is { } account1)
            {
                UnixAccounts.ChangeOwner(passwordFile, account1);
            }

            string[] initdb =
            [
                installation.InitDb, "-D", server.DataDirectory, "-U", LocalPostgresServerResource.UserName,
                "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C.UTF-8",
            ];
            var result = owner is null
                ? await ProcessRunner.RunAsync(initdb[0], initdb[1..], cancellationToken)
                : await ProcessRunner.RunAsync("setpriv",
                    [$"--reuid={account}", $"--regid={account}", "--init-groups", "--", .. initdb], cancellationToken);

            if (result.ExitCode != 0)
            {
                throw new LocalServerException(LocalServerMessages.InitDbFailed(server.Name, server.DataDirectory, result.Output));
            }

            LocalServersLog.ClusterCreated(logger, server.Name, installation.Major, server.DataDirectory);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>Creates the database unless it exists: safe to run at every start, as Aspire's own Postgres does.</summary>
    public static async Task CreateDatabaseAsync(string serverConnectionString, string databaseName, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(serverConnectionString + ";Database=postgres");
        await connection.OpenAsync(cancellationToken);

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = databaseName });
            if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return;
            }
        }

        var quoted = "\"" + databaseName.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Another AppHost sharing this data folder created it between our check and our CREATE.
        }
    }
}
