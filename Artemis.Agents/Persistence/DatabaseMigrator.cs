using System.Diagnostics;
using Artemis.ServiceDefaults;
using DbUp;
using DbUp.Engine.Output;
using Polly.Registry;

namespace Artemis.Agents.Persistence;

/// <summary>
/// Brings the schema of <c>artemisdb</c> up to date at start with DbUp's versioned scripts (embedded
/// <c>Migrations/NNNN_*.sql</c>, each applied once, journaled in <c>schemaversions</c>), so starting again is a no-op.
/// </summary>
public sealed class DatabaseMigrator(
    IConfiguration configuration,
    ResiliencePipelineProvider<string> pipelines,
    ILogger<DatabaseMigrator> logger) : BackgroundService
{
    public static readonly ActivitySource ActivitySource = new("Artemis.Persistence");

    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the schema is up to date; faults if the migration failed.</summary>
    public Task Completed => _completed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = ActivitySource.StartActivity("Migrate artemisdb");
        try
        {
            var connectionString = configuration.GetConnectionString(ResourceNames.Database)
                ?? throw new InvalidOperationException($"ConnectionStrings:{ResourceNames.Database} is not configured.");
            var pipeline = pipelines.GetPipeline(PersistenceExtensions.MigrationPipeline);
            await pipeline.ExecuteAsync(token => new ValueTask(Task.Run(() => Upgrade(connectionString), token)), stoppingToken);
            _completed.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _completed.TrySetCanceled(stoppingToken);
        }
        catch (Exception exception)
        {
            PersistenceLog.MigrationFailed(logger, exception);
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            _completed.TrySetException(exception);
        }
    }

    private void Upgrade(string connectionString)
    {
        var upgrader = DeployChanges.To
            .PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly)
            .WithTransactionPerScript()
            .LogTo(new DbUpLogger(logger))
            .Build();

        var result = upgrader.PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException($"Migration script '{result.ErrorScript?.Name}' failed: {result.Error.Message}", result.Error);
        }

        var applied = result.Scripts.Count();
        PersistenceLog.MigrationCompleted(logger, applied);
    }

    private sealed class DbUpLogger(ILogger logger) : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) => Log(LogLevel.Trace, format, args);
        public void LogDebug(string format, params object[] args) => Log(LogLevel.Debug, format, args);
        public void LogInformation(string format, params object[] args) => Log(LogLevel.Information, format, args);
        public void LogWarning(string format, params object[] args) => Log(LogLevel.Warning, format, args);
        public void LogError(string format, params object[] args) => Log(LogLevel.Error, format, args);
        public void LogError(Exception ex, string format, params object[] args) => Log(LogLevel.Error, format, args);

        private void Log(LogLevel level, string format, object[] args)
        {
            if (logger.IsEnabled(level))
            {
                var message = Format(format, args);
                PersistenceLog.DbUpMessage(logger, level, message);
            }
        }

        private static string Format(string format, object[] args) =>
            args.Length == 0 ? format : string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args);
    }
}
