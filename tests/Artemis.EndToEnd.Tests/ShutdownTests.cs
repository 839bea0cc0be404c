using System.Diagnostics;

namespace Artemis.EndToEnd.Tests;

[Collection(WholeApp.Name)]
public sealed class ShutdownTests
{
    [Fact]
    public async Task Disposing_the_app_leaves_no_process_of_it_behind()
    {
        var app = await ArtemisApp.StartAsync();
        await app.WaitAllHealthyAsync();
        var processes = AppProcesses(app);
        var listing = string.Join('\n', processes);
        Assert.True(processes.Any(process => process.Contains("redis-server", StringComparison.Ordinal)), $"no {"redis-server"} among:\n{listing}");
        Assert.True(processes.Any(process => process.Contains("postgres", StringComparison.Ordinal)), $"no {"postgres"} among:\n{listing}");
        Assert.True(processes.Any(process => process.Contains("Artemis.Agents", StringComparison.Ordinal)), $"no {"Artemis.Agents"} among:\n{listing}");
        Assert.True(processes.Any(process => process.Contains("Artemis.Web", StringComparison.Ordinal)), $"no {"Artemis.Web"} among:\n{listing}");
        Assert.True(processes.Any(process => process.Contains("dcp", StringComparison.Ordinal)), $"no {"dcp"} among:\n{listing}");

        await app.DisposeAsync();

        // DCP stops its processes asynchronously; give it the 20 s the brief allows for a stop.
        var deadline = Stopwatch.StartNew();
        while (AppProcesses(app).Count > 0 && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(250);
        }

        Assert.Empty(AppProcesses(app));
    }

    /// <summary>
    /// This app's processes: servers by their working folder (inside the app's state folder: Redis rewrites its
    /// command line), services by the run id in their environment, DCP by the test process it monitors and the
    /// session folder its helpers share (one whole app runs at a time in this assembly).
    /// </summary>
    private List<string> AppProcesses(ArtemisApp app)
    {
        var marker = $"{ArtemisApp.RunIdVariable}={app.RunId}";
        var monitor = $"--monitor {Environment.ProcessId}";
        var processes = Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Select(name => int.TryParse(name, out var pid) ? pid : 0)
            .Where(pid => pid > 0 && pid != Environment.ProcessId)
            .Select(pid => (Pid: pid, CommandLine: Read($"/proc/{pid}/cmdline")))
            .ToList();

        foreach (var (_, commandLine) in processes.Where(process => process.CommandLine.Contains(monitor, StringComparison.Ordinal)))
        {
            var words = commandLine.Split(' ');
            var kubeconfig = Array.IndexOf(words, "--kubeconfig");
            if (kubeconfig >= 0 && kubeconfig + 1 < words.Length)
            {
                _dcpSessions.Add(Path.GetDirectoryName(words[kubeconfig + 1])!);
            }
        }

        return processes
            .Where(process =>
                WorkingDirectory(process.Pid).StartsWith(app.StateDirectory, StringComparison.Ordinal)
                || process.CommandLine.Contains(monitor, StringComparison.Ordinal)
                || _dcpSessions.Any(session => process.CommandLine.Contains(session, StringComparison.Ordinal))
                || Read($"/proc/{process.Pid}/environ").Split(' ').Contains(marker))
            .Select(process => $"{process.Pid}: {process.CommandLine}")
            .ToList();
    }

    private readonly HashSet<string> _dcpSessions = [];

    private static string WorkingDirectory(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/cwd").LinkTarget ?? "";
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Replace('\0', ' ').Trim();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return ""; // The process ended while we looked.
        }
    }
}
