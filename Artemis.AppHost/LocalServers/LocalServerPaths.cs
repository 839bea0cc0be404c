using Microsoft.Extensions.Configuration;

namespace Artemis.AppHost.LocalServers;

/// <summary>
/// Where the local servers keep their data: <c>Artemis:StateDirectory</c> (or <c>ARTEMIS_STATE_DIR</c>), by default
/// <c>.artemis/</c> in the repository root (the AppHost project's parent folder). One folder per server; Artemis never
/// deletes anything in it.
/// </summary>
public static class LocalServerPaths
{
    public const string StateDirectoryKey = "Artemis:StateDirectory";
    public const string StateDirectoryEnvironmentVariable = "ARTEMIS_STATE_DIR";

    public static string StateDirectory(IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[StateDirectoryKey]
            ?? Environment.GetEnvironmentVariable(StateDirectoryEnvironmentVariable);
        var root = string.IsNullOrWhiteSpace(configured)
            ? Path.Combine(Directory.GetParent(builder.AppHostDirectory)?.FullName ?? builder.AppHostDirectory, ".artemis")
            : configured;
        return Path.GetFullPath(root, builder.AppHostDirectory);
    }

    /// <summary>
    /// The root of the agents' workspaces: <c>workspaces/</c> in the state folder, made here in run mode. Published, a
    /// container's own /tmp (scratch that lives as long as the replica).
    /// </summary>
    public static string WorkspaceRoot(IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return "/tmp";
        }

        var root = Path.Combine(StateDirectory(builder), "workspaces");
        Directory.CreateDirectory(root);
        return root;
    }

    /// <summary>The folder of one server's data, named after its resource.</summary>
    public static string DataDirectory(IDistributedApplicationBuilder builder, string resourceName) =>
        Path.Combine(StateDirectory(builder), resourceName);
}
