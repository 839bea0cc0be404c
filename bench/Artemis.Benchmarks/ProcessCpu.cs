using System.Globalization;

namespace Artemis.Benchmarks;

/// <summary>CPU time used so far by the processes a benchmark runs on, read from <c>/proc</c>.</summary>
internal static class ProcessCpu
{
    /// <summary>USER_HZ of /proc's CPU times: 100 on Linux (x86-64 and arm64).</summary>
    private const double ClockTicksPerSecond = 100;

    /// <summary>
    /// CPU time so far, in milliseconds (10 ms steps): of this process (the service under test and the simulator), of
    /// its children that ended (git, the sandbox's launchers and jobs), and of the PostgreSQL and Redis processes.
    /// </summary>
    public static Dictionary<string, double> Sample()
    {
        var ticks = new Dictionary<string, long> { ["service"] = 0, ["child processes"] = 0, ["PostgreSQL"] = 0, ["Redis"] = 0 };
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
                ticks["service"] += Field(11) + Field(12);
                ticks["child processes"] += Field(13) + Field(14);
            }
            else if (name.StartsWith("postgres", StringComparison.Ordinal))
            {
                ticks["PostgreSQL"] += Field(11) + Field(12);
            }
            else if (name.StartsWith("redis", StringComparison.Ordinal))
            {
                ticks["Redis"] += Field(11) + Field(12);
            }
        }

        return ticks.ToDictionary(pair => pair.Key, pair => pair.Value * 1000.0 / ClockTicksPerSecond);
    }
}
