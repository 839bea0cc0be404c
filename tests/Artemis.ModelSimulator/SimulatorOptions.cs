namespace Artemis.ModelSimulator;

/// <summary>Configuration section <c>Simulator</c>.</summary>
public sealed class SimulatorOptions
{
    public const string Section = "Simulator";

    /// <summary>When set, <c>/v1/*</c> requires <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>A script file loaded at start (relative paths are relative to the content root).</summary>
    public string? ScriptPath { get; set; }

    /// <summary>How many of the newest requests <c>/_sim/requests</c> keeps.</summary>
    public int MaxLoggedRequests { get; set; } = 1000;
}
