using System.Net;
using System.Net.Http.Headers;
using Artemis.Agents.Models;
using Artemis.ServiceDefaults;
using Npgsql;
using StackExchange.Redis;

namespace Artemis.Agents.Configuration;

/// <summary>
/// Reaches PostgreSQL, Redis and the model endpoint with short timeouts. An unreachable server or a refused key is an
/// error naming the connection. Only connections whose settings passed validation are probed.
/// </summary>
public static class ConfigurationProbes
{
    /// <summary>For <c>check-config</c> and <c>/api/config/report</c>: a person is waiting for the answer.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// For the check the service makes before it starts. The AppHost starts it as soon as PostgreSQL and Redis are
    /// healthy, often on a machine busy starting everything else: a first connection slower than 3 s there is load,
    /// not a bad setting, and refusing to start for it left the whole app down. A refused password, a missing database
    /// or a closed port are still reported at once.
    /// </summary>
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(20);

    public static async Task<ConfigurationReport> ProbeAsync(
        IConfiguration configuration, ConfigurationReport validated, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var errors = validated.Errors.ToList();
        var warnings = validated.Warnings.ToList();
        bool Valid(string prefix) => !errors.Any(e => e.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

        var probes = new List<Task<ConfigurationIssue?>>();
        if (Valid($"ConnectionStrings:{ResourceNames.Database}"))
        {
            probes.Add(ProbePostgresAsync(configuration.GetConnectionString(ResourceNames.Database)!, timeout, cancellationToken));
        }

        if (Valid($"ConnectionStrings:{ResourceNames.Redis}"))
        {
            probes.Add(ProbeRedisAsync(configuration.GetConnectionString(ResourceNames.Redis)!, timeout));
        }

        if (Valid($"ConnectionStrings:{ResourceNames.Model}") && Valid($"{ModelOptions.SectionName}:Endpoint"))
        {
            probes.Add(ProbeModelAsync(ModelOptions.From(configuration), timeout, cancellationToken));
        }

        foreach (var issue in await Task.WhenAll(probes))
        {
            if (issue is not null)
            {
                errors.Add(issue);
            }
        }

        return new ConfigurationReport(errors, warnings);
    }

    private static async Task<ConfigurationIssue?> ProbePostgresAsync(string connectionString, TimeSpan timeout, CancellationToken cancellationToken)
    {
        const string key = "ConnectionStrings:" + ResourceNames.Database;
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = Math.Max(1, (int)timeout.TotalSeconds), Pooling = false };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            await connection.OpenAsync(deadline.Token);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(deadline.Token);
            return null;
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            return new(key, $"PostgreSQL at {builder.Host}:{builder.Port} refused the password of user '{builder.Username}'");
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            return new(key, $"the database '{builder.Database}' does not exist on {builder.Host}:{builder.Port}");
        }
        catch (Exception exception) when (exception is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return new(key, $"PostgreSQL at {builder.Host}:{builder.Port} is unreachable within {timeout.TotalSeconds:0.#} s ({exception.Message})");
        }
    }

    private static async Task<ConfigurationIssue?> ProbeRedisAsync(string connectionString, TimeSpan timeout)
    {
        const string key = "ConnectionStrings:" + ResourceNames.Redis;
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 0;
        options.ConnectTimeout = (int)timeout.TotalMilliseconds;
        options.SyncTimeout = (int)timeout.TotalMilliseconds;
        var where = string.Join(", ", options.EndPoints);
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
            await redis.GetDatabase().PingAsync();
            return null;
        }
        catch (RedisConnectionException exception) when (exception.FailureType == ConnectionFailureType.AuthenticationFailure
            || exception.Message.Contains("WRONGPASS", StringComparison.Ordinal) || exception.Message.Contains("NOAUTH", StringComparison.Ordinal))
        {
            return new(key, $"Redis at {where} refused the password");
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            return new(key, $"Redis at {where} is unreachable within {timeout.TotalSeconds:0.#} s ({exception.Message.Split('\n')[0]})");
        }
    }

    private static async Task<ConfigurationIssue?> ProbeModelAsync(ModelOptions model, TimeSpan timeout, CancellationToken cancellationToken)
    {
        const string key = ModelOptions.SectionName + ":Endpoint";
        var endpoint = model.Endpoint!;
        using var http = new HttpClient { Timeout = timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/models"));
        if (!string.IsNullOrEmpty(model.ApiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", model.ApiKey);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    new(ModelOptions.SectionName + ":ApiKey", $"the model endpoint {endpoint} refused the API key ({(int)response.StatusCode})"),
                _ when (int)response.StatusCode >= 500 =>
                    new(key, $"the model endpoint {endpoint} answered {(int)response.StatusCode}"),
                _ => null,
            };
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return new(key, $"the model endpoint {endpoint} is unreachable within {timeout.TotalSeconds:0.#} s ({exception.Message})");
        }
    }
}
