namespace Artemis.ServiceDefaults;

/// <summary>
/// The names of the app's resources and connection strings: one place shared by the AppHost, the services and the
/// tests, so that a resource and the connection string naming it can never drift apart.
/// </summary>
public static class ResourceNames
{
    public const string Redis = "redis";
    public const string Postgres = "postgres";
    public const string Database = "artemisdb";
    public const string Model = "model";
    public const string Agents = "agents";
    public const string Web = "web";

    /// <summary>The secret parameter holding the API key that protects the Agents API.</summary>
    public const string AgentsApiKey = "agents-api-key";

    /// <summary>The header that carries the API key.</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>The configuration key under which services read the API key.</summary>
    public const string ApiKeyConfigKey = "Artemis:Api:Key";

    /// <summary>The environment variable through which the AppHost hands the key to the services.</summary>
    public const string ApiKeyEnvironmentVariable = "Artemis__Api__Key";
}
