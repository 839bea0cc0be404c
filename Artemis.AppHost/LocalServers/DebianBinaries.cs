using System.Diagnostics;
using System.Globalization;

namespace Artemis.AppHost.LocalServers;

/// <summary>
/// Finds the server programs that Debian's packages install. Missing programs are reported by the package that
/// brings them, so the fix is one <c>apt-get install</c>.
/// </summary>
public static class DebianBinaries
{
    public const string RedisPackage = "redis-server";
    public const string PostgresPackage = "postgresql";

    /// <summary>The PostgreSQL major version the app is built and tested against.</summary>
    public const int PreferredPostgresMajor = 15;

    /// <summary>AppHost setting: the redis-server program to run instead of the one on PATH.</summary>
    public const string RedisServerKey = "Artemis:LocalServers:RedisServer";

    /// <summary>AppHost setting: the bin folder of the PostgreSQL to run instead of Debian's.</summary>
    public const string PostgresBinDirectoryKey = "Artemis:LocalServers:PostgresBinDirectory";

    private const string PostgresLibRoot = "/usr/lib/postgresql";

    /// <summary>The configured redis-server, else the one on PATH; null when there is none.</summary>
    public static string? FindRedis(IConfiguration configuration) =>
        configuration[RedisServerKey] is { Length: > 0 } configured
            ? (File.Exists(configured) ? Path.GetFullPath(configured) : null)
            : FindOnPath("redis-server");

    /// <summary>The configured PostgreSQL bin folder, else Debian's; null when there is none.</summary>
    public static PostgresInstallation? FindPostgres(IConfiguration configuration)
    {
        if (configuration[PostgresBinDirectoryKey] is not { Length: > 0 } configured)
        {
            return FindPostgres();
        }

        var binDirectory = Path.GetFullPath(configured);
        var postgres = Path.Combine(binDirectory, "postgres");
        return File.Exists(postgres) && ReadMajorVersion(postgres) is { } major
            ? new PostgresInstallation(major, binDirectory)
            : null;
    }

    /// <summary>The major version from <c>postgres --version</c> ("postgres (PostgreSQL) 15.18 (Debian …)").</summary>
    private static int? ReadMajorVersion(string postgres)
    {
        var startInfo = new ProcessStartInfo(postgres, "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(startInfo);
        if (process is null)
        {
            return null;
        }

        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var version = output.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(word => char.IsDigit(word[0]));
        return version is not null && int.TryParse(version.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            ? major
            : null;
    }

    public static string? FindOnPath(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var directory in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/sbin"))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The bin folder of the installed PostgreSQL (Debian keeps it off PATH, under /usr/lib/postgresql/N/bin): the
    /// preferred major version when present, otherwise the newest.
    /// </summary>
    public static PostgresInstallation? FindPostgres()
    {
        if (!Directory.Exists(PostgresLibRoot))
        {
            return null;
        }

        var installations = Directory.GetDirectories(PostgresLibRoot)
            .Select(directory => (Directory: directory, Major: int.TryParse(Path.GetFileName(directory), out var major) ? major : 0))
            .Where(candidate => candidate.Major > 0 && File.Exists(Path.Combine(candidate.Directory, "bin", "postgres")))
            .OrderByDescending(candidate => candidate.Major == PreferredPostgresMajor)
            .ThenByDescending(candidate => candidate.Major)
            .ToList();

        return installations.Count == 0
            ? null
            : new PostgresInstallation(installations[0].Major, Path.Combine(installations[0].Directory, "bin"));
    }
}

public sealed record PostgresInstallation(int Major, string BinDirectory)
{
    public string Postgres => Path.Combine(BinDirectory, "postgres");
    public string InitDb => Path.Combine(BinDirectory, "initdb");
}
