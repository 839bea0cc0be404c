using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Stops the service, gracefully, when the process that started it dies. Aspire's orchestrator starts a service as
/// <c>dotnet run</c> → the service; when the AppHost is killed the orchestrator kills <c>dotnet run</c> and the
/// service is orphaned until it is found much later (ADR-003). An orphaned service is reparented, so a change of
/// parent pid is the signal. A service whose parent never dies (pid 1 in a container, systemd) never sees one.
/// </summary>
internal sealed partial class ParentProcessWatcher(IHostApplicationLifetime lifetime, ILogger<ParentProcessWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (ParentPid() is not { } parent || parent <= 1)
        {
            return;
        }

        using var timer = new PeriodicTimer(PollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (ParentPid() is { } current && current != parent)
            {
                ParentDied(logger, parent);
                lifetime.StopApplication();
                return;
            }
        }
    }

    /// <summary>The parent pid, from /proc/self/stat ("pid (comm) state ppid …"; comm may hold spaces and parentheses).</summary>
    private static int? ParentPid()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The process that started this service (pid {Parent}) has died: stopping")]
    private static partial void ParentDied(ILogger logger, int parent);
}
