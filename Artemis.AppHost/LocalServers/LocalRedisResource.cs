namespace Artemis.AppHost.LocalServers;

/// <summary>
/// A Redis server run as a local process (Debian's <c>redis-server</c>): loopback only, password from a generated
/// secret parameter, append-only persistence in its data folder.
/// </summary>
public sealed class LocalRedisResource(string name, string command, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, command, dataDirectory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The configuration file written at each start (mode 0600: it holds the password).</summary>
    public string ConfigFile => Path.Combine(DataDirectory, "redis.conf");

    /// <summary>StackExchange.Redis configuration, the same shape as Aspire's own Redis resource.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}")),
        new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}")),
        new("Password", ReferenceExpression.Create($"{PasswordParameter}")),
    ];
}
