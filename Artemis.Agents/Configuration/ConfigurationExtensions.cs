using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Supervision;

namespace Artemis.Agents.Configuration;

public static class ConfigurationExtensions
{
    /// <summary>
    /// The Artemis options, bound for the features, and the gate that validates every one of them (and reaches
    /// PostgreSQL, Redis and the model) before anything else starts: on any error the service refuses to start.
    /// </summary>
    public static IHostApplicationBuilder AddConfigurationValidation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BudgetOptions>().BindConfiguration(BudgetOptions.SectionName);
        builder.Services.AddOptions<WorkspaceOptions>().BindConfiguration(WorkspaceOptions.SectionName);
        builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.SectionName);
        builder.Services.AddOptions<AgentsOptions>().BindConfiguration(AgentsOptions.SectionName);
        builder.Services.AddHostedService<ConfigurationGate>();
        return builder;
    }
}

/// <summary>Runs first (StartingAsync): an invalid configuration stops the host before any service starts.</summary>
internal sealed partial class ConfigurationGate(IConfiguration configuration, ILogger<ConfigurationGate> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var report = await ConfigurationProbes.ProbeAsync(
            configuration, ConfigurationValidator.Validate(configuration), ConfigurationProbes.DefaultTimeout, cancellationToken);
        foreach (var warning in report.Warnings)
        {
            var line = warning.ToString();
            ConfigurationWarning(logger, line);
        }

        if (!report.IsValid)
        {
            var formatted = report.Format();
            InvalidConfiguration(logger, formatted);
            throw new InvalidConfigurationException(report);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3001, Level = LogLevel.Critical, Message = "The service refuses to start. {Report}")]
    private static partial void InvalidConfiguration(ILogger logger, string report);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void ConfigurationWarning(ILogger logger, string warning);
}
