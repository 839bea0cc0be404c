namespace Artemis.Agents.Sandbox;

/// <summary>Limits of one sandbox job (issue #5).</summary>
public sealed class SandboxOptions
{
    public const string SectionName = "Artemis:Sandbox";

    public int CpuSeconds { get; set; } = 30;
    public int MemoryMb { get; set; } = 1024;
    public int MaxFileSizeMb { get; set; } = 64;
    public int MaxProcesses { get; set; } = 64;
    public int MaxOpenFiles { get; set; } = 256;
    public int TimeoutSeconds { get; set; } = 60;
    public int MaxOutputBytes { get; set; } = 1024 * 1024;
    public int WorkspaceQuotaMb { get; set; } = 512;

    /// <summary>Run without bubblewrap when it is missing; every result then says it was not isolated.</summary>
    public bool AllowUnisolated { get; set; }
}
