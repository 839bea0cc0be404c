using Artemis.AppHost.LocalServers;
using Artemis.ServiceDefaults;
using Npgsql;

namespace Artemis.AppHost.Tests.LocalServers;

public sealed class LocalPostgresTests : IDisposable
{
    private readonly TestState _state = new();

    private string DataDirectory => _state.DataDirectory(ResourceNames.Postgres);

    [Fact]
    public async Task Postgres_starts_healthy_and_creates_the_database()
    {
        await using var app = await LocalServersApp.StartPostgresAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Database);

        await using var connection = new NpgsqlConnection(await app.ConnectionStringAsync(ResourceNames.Database));
        await connection.OpenAsync();
        Assert.Equal(ResourceNames.Database, connection.Database);
        await using var command = new NpgsqlCommand("SELECT current_setting('server_version_num')::int / 10000", connection);
        Assert.Equal(DebianBinaries.PreferredPostgresMajor, (int)(await command.ExecuteScalarAsync())!);
        Assert.Equal("15", File.ReadAllText(Path.Combine(DataDirectory, "PG_VERSION")).Trim());
    }

    [Fact]
    public async Task Postgres_refuses_a_wrong_password()
    {
        await using var app = await LocalServersApp.StartPostgresAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Database);

        var builder = new NpgsqlConnectionStringBuilder(await app.ConnectionStringAsync(ResourceNames.Database)) { Password = "not-the-password" };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
    }

    [Fact]
    public async Task Postgres_keeps_data_across_a_restart_and_creating_the_database_again_is_a_no_op()
    {
        await using (var first = await LocalServersApp.StartPostgresAsync(_state))
        {
            await first.WaitHealthyAsync(ResourceNames.Database);
            await using var connection = new NpgsqlConnection(await first.ConnectionStringAsync(ResourceNames.Database));
            await connection.OpenAsync();
            await using var write = new NpgsqlCommand("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')", connection);
            await write.ExecuteNonQueryAsync();
        }

        await using var second = await LocalServersApp.StartPostgresAsync(_state);
        await second.WaitHealthyAsync(ResourceNames.Database);
        await using var again = new NpgsqlConnection(await second.ConnectionStringAsync(ResourceNames.Database));
        await again.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT body FROM notes", again);
        Assert.Equal("kept", await read.ExecuteScalarAsync());
        await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = $1", again) { Parameters = { new() { Value = ResourceNames.Database } } };
        Assert.Equal(1L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Postgres_as_root_runs_as_the_postgres_account_listening_on_loopback_only()
    {
        Assert.True(Environment.IsPrivilegedProcess, "CI runs as root, where PostgreSQL must drop to the postgres account");
        await using var app = await LocalServersApp.StartPostgresAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Database);

        var postmasterPid = int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        var postgresUid = File.ReadLines("/etc/passwd").Select(line => line.Split(':')).Single(fields => fields[0] == "postgres")[2];
        Assert.Equal(int.Parse(postgresUid, System.Globalization.CultureInfo.InvariantCulture), ProcessTable.Uid(postmasterPid));

        await using var connection = new NpgsqlConnection(await app.ConnectionStringAsync(ResourceNames.Database));
        await connection.OpenAsync();
        await using var settings = new NpgsqlCommand("SELECT current_setting('listen_addresses') || '|' || current_setting('unix_socket_directories') || '|' || current_setting('password_encryption')", connection);
        Assert.Equal("localhost||scram-sha-256", await settings.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Postgres_reports_a_password_that_no_longer_matches_the_data_folder()
    {
        await using (var first = await LocalServersApp.StartPostgresAsync(_state))
        {
            await first.WaitHealthyAsync(ResourceNames.Database);
        }

        _state.PostgresPassword = "a-different-password";
        await using var second = await LocalServersApp.StartPostgresAsync(_state);
        var log = await second.LogAsync(ResourceNames.Postgres, until: "refused the password");
        Assert.Contains("refused the password in the AppHost's user secrets (Parameters:postgres-password)", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_refuses_a_data_folder_that_is_not_a_cluster()
    {
        Directory.CreateDirectory(DataDirectory);
        await File.WriteAllTextAsync(Path.Combine(DataDirectory, "holiday-photos.txt"), "not a database");

        await using var app = await LocalServersApp.StartPostgresAsync(_state);

        var log = await app.WaitFailedAsync(ResourceNames.Postgres);
        Assert.Contains($"the data folder {DataDirectory} is not empty and is not a PostgreSQL cluster", log, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(DataDirectory, "holiday-photos.txt")), "nothing in the state folder is ever deleted");
    }

    [Fact]
    public async Task Postgres_refuses_a_cluster_made_by_another_version()
    {
        Directory.CreateDirectory(DataDirectory);
        await File.WriteAllTextAsync(Path.Combine(DataDirectory, "PG_VERSION"), "14\n");

        await using var app = await LocalServersApp.StartPostgresAsync(_state);

        var log = await app.WaitFailedAsync(ResourceNames.Postgres);
        Assert.Contains("was made by PostgreSQL 14, but PostgreSQL 15 is installed", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_as_root_refuses_a_state_folder_the_postgres_account_cannot_reach()
    {
        Assert.True(Environment.IsPrivilegedProcess, "CI runs as root, where PostgreSQL must drop to the postgres account");
        Directory.CreateDirectory(_state.Directory);
        File.SetUnixFileMode(_state.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        await using var app = await LocalServersApp.StartPostgresAsync(_state);

        var log = await app.WaitFailedAsync(ResourceNames.Postgres);
        Assert.Contains($"the 'postgres' account cannot reach {DataDirectory}", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_without_its_programs_fails_to_start_naming_the_package()
    {
        await using var app = await LocalServersApp.StartPostgresAsync(_state, $"{DebianBinaries.PostgresBinDirectoryKey}=/nonexistent/bin");

        var log = await app.WaitFailedAsync(ResourceNames.Postgres);
        Assert.Contains("apt-get install -y postgresql", log, StringComparison.Ordinal);
    }

    public void Dispose() => _state.Dispose();
}
