using System.ComponentModel.DataAnnotations;

namespace Artemis.Agents.Persistence;

public sealed class MigrationOptions
{
    public const string SectionName = "Artemis:Persistence";

    [Range(0, 100)]
    public int MaxRetryAttempts { get; set; } = 8;

    [Range(1, 60_000)]
    public int RetryDelayMilliseconds { get; set; } = 250;
}
