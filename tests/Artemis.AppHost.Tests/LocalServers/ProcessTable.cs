namespace Artemis.AppHost.Tests.LocalServers;

/// <summary>What /proc says about the processes on this machine.</summary>
internal static class ProcessTable
{
    public static IEnumerable<string> CommandLines() => Pids().Select(CommandLine).Where(line => line.Length > 0);

    public static IEnumerable<int> Pids() =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Select(name => int.TryParse(name, out var pid) ? pid : 0)
            .Where(pid => pid > 0);

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return ""; // The process ended while we looked.
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The real uid of a process, from /proc/PID/status.</summary>
    public static int Uid(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(line => line.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
}
