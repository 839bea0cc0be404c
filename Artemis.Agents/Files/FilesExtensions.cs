using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Files;

public static class FilesExtensions
{
    /// <summary>The workspace options, the open-file events and the factory of per-agent <see cref="WorkspaceFiles"/> plugins.</summary>
    public static IHostApplicationBuilder AddFiles(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WorkspaceOptions>().BindConfiguration(WorkspaceOptions.SectionName);
        builder.Services.AddSingleton<FileOpenRequests>();
        builder.Services.AddSingleton<IWorkspaceEvents>(sp => sp.GetRequiredService<FileOpenRequests>());
        builder.Services.AddSingleton<WorkspaceFilesFactory>();
        return builder;
    }
}

/// <summary>Makes the <c>files</c> plugin of one agent, rooted at that agent's own copy of the workspace.</summary>
public sealed class WorkspaceFilesFactory(IOptions<WorkspaceOptions> options, IWorkspaceEvents events, ILoggerFactory? loggerFactory = null)
{
    public WorkspaceFiles Create(string workspaceRoot) =>
        new(workspaceRoot, options.Value, events, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<WorkspaceFiles>());
}
