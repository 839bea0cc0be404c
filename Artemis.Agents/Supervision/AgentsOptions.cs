namespace Artemis.Agents.Supervision;

/// <summary>
/// How the supervisor works: how many developer agents attempt a card at once and how long each may go on, how many
/// cards one replica takes at a time, its lease, and when it steps in.
/// </summary>
public sealed class AgentsOptions
{
    public const string SectionName = "Artemis:Agents";

    /// <summary>Developer agents started at once on a card, each in its own copy of the workspace.</summary>
    public int ParallelDevelopers { get; set; } = 2;

    /// <summary>Model calls one developer agent may make on a card (each tool round trip is one).</summary>
    public int MaxTurns { get; set; } = 20;

    /// <summary>False: this replica serves the API but takes no cards (another replica does).</summary>
    public bool Supervise { get; set; } = true;

    /// <summary>Cards one replica works on at the same time.</summary>
    public int MaxConcurrentCards { get; set; } = 2;

    /// <summary>How long a claim on a card lasts unless renewed; a replica that dies frees its cards after this.</summary>
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>How often an idle supervisor looks for cards (it is also woken when a card is created here).</summary>
    public int PollMilliseconds { get; set; } = 1000;

    /// <summary>Wall-clock time one developer agent has before the supervisor stops it.</summary>
    public int AttemptTimeoutSeconds { get; set; } = 900;

    /// <summary>Times a failed model call of an agent is retried by the supervisor (after Polly's own HTTP retries).</summary>
    public int AttemptRetries { get; set; } = 2;
}
