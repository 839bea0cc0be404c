using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Artemis.AppHost.LocalServers;

/// <summary>
/// <c>SELECT 1</c> on the server (or one database). A refused password is not a transient failure: it means the
/// generated password in the AppHost's user secrets no longer matches the cluster in the data folder, so it says so
/// once, in the resource's log, with the fix.
/// </summary>
internal sealed class PostgresHealthCheck(
    LocalPostgresServerResource server, Func<string?> connectionString, Func<ILogger> resourceLogger) : IHealthCheck
{
    private int _reportedPasswordMismatch;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (connectionString() is not { } value)
        {
            return HealthCheckResult.Unhealthy("the connection string is not available yet");
        }

        try
        {
            await using var connection = new NpgsqlConnection(value);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            var message = LocalServerMessages.PasswordMismatch(server);
            if (Interlocked.Exchange(ref _reportedPasswordMismatch, 1) == 0)
            {
                LocalServersLog.PasswordMismatch(resourceLogger(), message);
            }

            return HealthCheckResult.Unhealthy(message, exception);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return HealthCheckResult.Unhealthy(exception.Message, exception);
        }
    }
}
