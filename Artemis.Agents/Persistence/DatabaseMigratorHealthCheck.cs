using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Artemis.Agents.Persistence;

/// <summary>Unhealthy until the schema is up to date, so the AppHost holds dependants back until then.</summary>
internal sealed class DatabaseMigratorHealthCheck(DatabaseMigrator migrator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var task = migrator.Completed;
        return Task.FromResult(task.Status switch
        {
            TaskStatus.RanToCompletion => HealthCheckResult.Healthy("schema up to date"),
            TaskStatus.Faulted => HealthCheckResult.Unhealthy($"migration failed: {task.Exception?.InnerException?.Message}"),
            TaskStatus.Canceled => HealthCheckResult.Unhealthy("migration cancelled"),
            _ => HealthCheckResult.Unhealthy("migration running"),
        });
    }
}
