using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Supervision;

namespace Artemis.Agents.Configuration;

public static class ConfigurationExtensions
{
    /// <summary>
    /// The Artemis options, bound for the features (validated by <see cref="ValidateConfigurationAsync"/>).
    /// </summary>
    public static IHostApplicationBuilder AddArtemisOptions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WorkspaceOptions>().BindConfiguration(WorkspaceOptions.SectionName);
        builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.SectionName);
        builder.Services.AddOptions<AgentsOptions>().BindConfiguration(AgentsOptions.SectionName);
        return builder;
    }

    /// <summary>
    /// Validates every setting and reaches PostgreSQL, Redis and the model, before the app is built: nothing that
    /// needs a setting is created from a bad one. Throws <see cref="InvalidConfigurationException"/> with the report.
    /// </summary>
    public static async Task ValidateConfigurationAsync(this WebApplicationBuilder builder, CancellationToken cancellationToken = default)
    {
        using var loggers = LoggerFactory.Create(logging => logging.AddConsole());
        await ConfigurationGate.EnsureValidAsync(builder.Configuration, loggers.CreateLogger("Artemis.Agents.Configuration"), cancellationToken);
    }
}

/// <summary>The check the service makes before it builds anything that needs a setting.</summary>
internal static partial class ConfigurationGate
{
    public static async Task EnsureValidAsync(IConfiguration configuration, ILogger logger, CancellationToken cancellationToken)
    {
        var report = await ConfigurationProbes.ProbeAsync(
            configuration, ConfigurationValidator.Validate(configuration), ConfigurationProbes.StartupTimeout, cancellationToken);
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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Critical, Message = "The service refuses to start. {Report}")]
    private static partial void InvalidConfiguration(ILogger logger, string report);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void ConfigurationWarning(ILogger logger, string warning);
}
