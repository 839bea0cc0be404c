namespace Artemis.AppHost.LocalServers;

/// <summary>
/// The PostgreSQL server, whichever way it runs: a local process, or Aspire's container. Program.cs can then read
/// <c>AddArtemisPostgres("postgres").AddDatabase("artemisdb")</c> in both modes.
/// </summary>
public sealed class ArtemisPostgresBuilder : IResourceBuilder<IResourceWithConnectionString>
{
    private readonly IResourceBuilder<IResourceWithConnectionString> _inner;

    internal ArtemisPostgresBuilder(IResourceBuilder<IResourceWithConnectionString> inner) => _inner = inner;

    public IDistributedApplicationBuilder ApplicationBuilder => _inner.ApplicationBuilder;

    public IResourceWithConnectionString Resource => _inner.Resource;

    public IResourceBuilder<IResourceWithConnectionString> WithAnnotation<TAnnotation>(
        TAnnotation annotation, ResourceAnnotationMutationBehavior behavior = ResourceAnnotationMutationBehavior.Append)
        where TAnnotation : IResourceAnnotation
    {
        _inner.WithAnnotation(annotation, behavior);
        return this;
    }

    /// <summary>Adds a database, created once the server is healthy (idempotently).</summary>
    public IResourceBuilder<IResourceWithConnectionString> AddDatabase([ResourceName] string name, string? databaseName = null) =>
        Resource switch
        {
            LocalPostgresServerResource local => LocalServersBuilderExtensions.AddLocalDatabase(
                ApplicationBuilder.CreateResourceBuilder(local), name, databaseName ?? name),
            PostgresServerResource container => ApplicationBuilder.CreateResourceBuilder(container).AddDatabase(name, databaseName),
            _ => throw new InvalidOperationException($"'{Resource.Name}' is not a PostgreSQL server."),
        };
}
