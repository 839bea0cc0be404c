namespace Artemis.Agents.Files;

/// <summary>Where agents' workspaces live, and the largest file the file tools read or write.</summary>
public sealed class WorkspaceOptions
{
    public const string SectionName = "Artemis:Workspace";

    public string Root { get; set; } = "";

    public long MaxFileBytes { get; set; } = 10L * 1024 * 1024;
}
