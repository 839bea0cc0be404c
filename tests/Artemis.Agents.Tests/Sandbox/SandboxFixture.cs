using System.Collections.Concurrent;
using Artemis.Agents.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Tests.Sandbox;

/// <summary>Sandbox tests run one at a time: they count processes per uid and machine-wide markers.</summary>
[CollectionDefinition(Name)]
public sealed class SandboxTestGroup : ICollectionFixture<SandboxFixture>
{
    public const string Name = "sandbox";
}

/// <summary>The machine's real sandbox, probed once; small limits so every hostile case ends in seconds.</summary>
public sealed class SandboxFixture
{
    public SandboxFixture()
    {
        Environment = SandboxEnvironment.Probe();
    }

    public SandboxEnvironment Environment { get; }

    public static SandboxOptions SmallLimits() => new()
    {
        CpuSeconds = 2,
        MemoryMb = 256,
        MaxFileSizeMb = 4,
        MaxProcesses = 32,
        MaxOpenFiles = 64,
        TimeoutSeconds = 4,
        MaxOutputBytes = 64 * 1024,
        WorkspaceQuotaMb = 16,
    };

    public SandboxRunner Runner(SandboxOptions? limits = null, SandboxEnvironment? environment = null) =>
        new(Options.Create(limits ?? SmallLimits()), environment ?? Environment, _jobs);

    /// <summary>
    /// The uids the jobs in <paramref name="workspace"/> ran as (from the runner's own "job ended" log). Other tests
    /// and the whole-app tests run sandbox jobs at the same time: a test looks for leftovers of its own jobs only.
    /// </summary>
    public IReadOnlyCollection<int> UidsOf(string workspace) =>
        _jobs.Uids.TryGetValue(Path.GetFullPath(workspace), out var uids) ? uids.Keys.ToList() : [];

    private readonly JobLog _jobs = new();

    private sealed class JobLog : ILogger<SandboxRunner>
    {
        public ConcurrentDictionary<string, ConcurrentDictionary<int, bool>> Uids { get; } = new(StringComparer.Ordinal);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields
                && fields.FirstOrDefault(field => field.Key == "Uid").Value is int uid
                && fields.FirstOrDefault(field => field.Key == "Workspace").Value is string workspace)
            {
                Uids.GetOrAdd(Path.GetFullPath(workspace), _ => new()).TryAdd(uid, true);
            }
        }
    }

    public static string NewWorkspace() => Directory.CreateTempSubdirectory("artemis-sandbox-ws-").FullName;
}
