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

    private const string PostgresLibRoot = "/usr/lib/postgresql";

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
