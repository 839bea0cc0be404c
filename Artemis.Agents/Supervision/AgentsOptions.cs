namespace Artemis.Agents.Supervision;

/// <summary>How many developer agents work on a card at once, and how long each may go on.</summary>
public sealed class AgentsOptions
{
    public const string SectionName = "Artemis:Agents";

    public int ParallelDevelopers { get; set; } = 2;

    public int MaxTurns { get; set; } = 20;
}
