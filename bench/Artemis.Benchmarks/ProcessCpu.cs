using System.Globalization;

namespace Artemis.Benchmarks;

/// <summary>CPU time of the benchmark's process, its ended children, and the PostgreSQL and Redis processes, from /proc.</summary>
internal static class ProcessCpu
{
    /// <summary>USER_HZ of /proc's CPU times: 100 on Linux (x86-64 and arm64).</summary>
    public const double ClockTicksPerSecond = 100;

    /// <summary>
    /// CPU time so far, in clock ticks: of this process (the Agents service and the simulator), of its children that
    /// ended (git, the sandbox's launchers and jobs), and of the PostgreSQL and Redis processes.
    /// </summary>
    public static Dictionary<string, long> Sample()
    {
        var sample = new Dictionary<string, long> { ["service"] = 0, ["child processes"] = 0, ["PostgreSQL"] = 0, ["Redis"] = 0 };
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(folder, "stat"));
            }
            catch (IOException)
            {
                continue; // ended meanwhile
            }

            // "pid (name) state ppid …": fields 14–17 are utime, stime, cutime, cstime; the name may hold spaces.
            var name = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..stat.LastIndexOf(')')];
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int index) => long.Parse(fields[index], CultureInfo.InvariantCulture);
            if (pid == Environment.ProcessId)
            {
                sample["service"] += Field(11) + Field(12);
                sample["child processes"] += Field(13) + Field(14);
            }
            else if (name.StartsWith("postgres", StringComparison.Ordinal))
            {
                sample["PostgreSQL"] += Field(11) + Field(12);
            }
            else if (name.StartsWith("redis", StringComparison.Ordinal))
            {
                sample["Redis"] += Field(11) + Field(12);
            }
        }

        return sample;
    }
}
