using Artemis.Agents.Api;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Supervision;
using Artemis.Agents.Voice;

namespace Artemis.Agents.Configuration;

/// <summary>Every key under <c>Artemis</c> that the service reads: anything else is a typo and an error.</summary>
internal static class KnownKeys
{
    public const string Root = "Artemis";

    /// <summary>Single values directly under <c>Artemis</c> (not sections): the offline demo switch the AppHost sets.</summary>
    public static readonly IReadOnlyList<string> Values = ["OfflineDemo"];

    /// <summary>Section (without "Artemis:") → its keys; Pricing is special: model names, then price keys.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Sections = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
    {
        ["Api"] = [nameof(ApiOptions.Key)],
        ["Persistence"] = [nameof(MigrationOptions.MaxRetryAttempts), nameof(MigrationOptions.RetryDelayMilliseconds)],
        ["Model"] = ModelOptions.Keys,
        ["Budget"] = PropertiesOf<BudgetOptions>(),
        ["Workspace"] = PropertiesOf<WorkspaceOptions>(),
        ["Sandbox"] = PropertiesOf<SandboxOptions>(),
        ["Agents"] = PropertiesOf<AgentsOptions>(),
        ["Messaging"] = PropertiesOf<MessagingOptions>(),
        ["Voice"] = PropertiesOf<VoiceOptions>(),
        ["Pricing"] = [],
    };

    private static string[] PropertiesOf<T>() => typeof(T).GetProperties().Select(property => property.Name).ToArray();

    /// <summary>The closest known name, for "did you mean"; null when nothing is close.</summary>
    public static string? Suggest(string unknown, IEnumerable<string> candidates) =>
        candidates
            .Select(candidate => (Candidate: candidate, Distance: Distance(unknown.ToUpperInvariant(), candidate.ToUpperInvariant())))
            .Where(pair => pair.Distance <= Math.Max(2, pair.Candidate.Length / 4))
            .OrderBy(pair => pair.Distance)
            .Select(pair => pair.Candidate)
            .FirstOrDefault();

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
