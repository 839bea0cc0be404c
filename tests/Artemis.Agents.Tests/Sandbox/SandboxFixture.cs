using Artemis.Agents.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;
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
        new(Options.Create(limits ?? SmallLimits()), environment ?? Environment, NullLogger<SandboxRunner>.Instance);

    public static string NewWorkspace() => Directory.CreateTempSubdirectory("artemis-sandbox-ws-").FullName;
}
