using Microsoft.Extensions.Options;

namespace Artemis.Agents.Sandbox;

public static class SandboxExtensions
{
    /// <summary>The sandbox limits, the machine's isolation check (logged at start), the runner and the per-agent plugin factory.</summary>
    public static IHostApplicationBuilder AddSandbox(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.SectionName);
        builder.Services.AddSingleton(_ => SandboxEnvironment.Probe());
        builder.Services.AddSingleton<SandboxRunner>();
        builder.Services.AddSingleton<SandboxPluginFactory>();
        builder.Services.AddHostedService<SandboxStartupCheck>();
        return builder;
    }
}

/// <summary>Makes the <c>sandbox</c> plugin of one agent: its workspace, and the card's test command if it has one.</summary>
public sealed class SandboxPluginFactory(SandboxRunner runner)
{
    public SandboxPlugin Create(string workspaceRoot, string? testCommand = null) => new(runner, workspaceRoot, testCommand);
}

/// <summary>Says at start, once and loudly, whether jobs will be isolated.</summary>
internal sealed class SandboxStartupCheck(SandboxEnvironment environment, IOptions<SandboxOptions> options, ILogger<SandboxStartupCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (environment.Isolated)
        {
            SandboxLog.Isolated(logger, SandboxEnvironment.Bwrap, SandboxRunner.UidBase);
        }
        else if (options.Value.AllowUnisolated)
        {
            SandboxLog.RunningUnisolated(logger, environment.Problem ?? "unknown");
        }
        else
        {
            SandboxLog.Unavailable(logger, environment.Problem ?? "unknown");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
