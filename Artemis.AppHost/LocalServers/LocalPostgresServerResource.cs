namespace Artemis.AppHost.LocalServers;

/// <summary>
/// A PostgreSQL server run as a local process from Debian's packages: its own cluster in its data folder (made by
/// <c>initdb</c> on first start), scram-sha-256, loopback TCP only, as the unprivileged <c>postgres</c> user when the
/// AppHost runs as root.
/// </summary>
public sealed class LocalPostgresServerResource(
    string name, string command, string dataDirectory, ParameterResource password, PostgresInstallation? installation, bool dropToPostgresUser)
    : ExecutableResource(name, command, dataDirectory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";

    /// <summary>The superuser that initdb creates; the same name Aspire's Postgres container uses.</summary>
    public const string UserName = "postgres";

    private readonly Dictionary<string, string> _databases = new(StringComparer.OrdinalIgnoreCase);
    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The installed PostgreSQL, or null when the <c>postgresql</c> package is missing.</summary>
    public PostgresInstallation? Installation { get; } = installation;

    /// <summary>True when the AppHost is root: PostgreSQL refuses to run as root.</summary>
    public bool DropToPostgresUser { get; } = dropToPostgresUser;

    /// <summary>Databases created on this server once it is healthy: resource name → database name.</summary>
    public IReadOnlyDictionary<string, string> Databases => _databases;

    internal void AddDatabase(string resourceName, string databaseName) => _databases.TryAdd(resourceName, databaseName);

    /// <summary>Npgsql connection string, the same shape as Aspire's own Postgres resource.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={PasswordParameter}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
        new("Username", ReferenceExpression.Create($"{UserName}")),
        new("Password", ReferenceExpression.Create($"{PasswordParameter}")),
    ];
}

/// <summary>A database on a <see cref="LocalPostgresServerResource"/>, created idempotently once the server is healthy.</summary>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresServerResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresServerResource>, IResourceWithConnectionString
{
    public LocalPostgresServerResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Parent};Database={DatabaseName}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
        ((IResourceWithConnectionString)Parent).GetConnectionProperties()
            .Append(new("Database", ReferenceExpression.Create($"{DatabaseName}")));
}
