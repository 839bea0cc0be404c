using Artemis.ServiceDefaults;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Artemis.Agents.Persistence;

public static class PersistenceExtensions
{
    public const string MigrationPipeline = "postgres-migrations";

    /// <summary>
    /// The Postgres data source (Aspire.Npgsql: config, health check, tracing) and the schema migration, which
    /// <c>/health</c> reports as unhealthy until it has run.
    /// </summary>
    public static IHostApplicationBuilder AddPersistence(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource(ResourceNames.Database);

        builder.Services.AddOptions<MigrationOptions>()
            .BindConfiguration(MigrationOptions.SectionName)
            .ValidateDataAnnotations(); // checked at start, with every other setting, by the configuration gate

        builder.Services.AddResiliencePipeline(MigrationPipeline, (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<MigrationOptions>>().Value;
            pipeline.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(exception => exception.IsTransient)
                    .Handle<TimeoutException>(),
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.RetryDelayMilliseconds),
            });
        });

        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatabaseMigrator>());
        builder.Services.AddHealthChecks().AddCheck<DatabaseMigratorHealthCheck>("migrations");
        return builder;
    }
}
