namespace Artemis.AppHost.LocalServers;

/// <summary>The one-line reports of what stops a local server, each naming the fix.</summary>
internal static class LocalServerMessages
{
    public static string MissingProgram(string resource, string program, string package) =>
        $"{resource}: '{program}' was not found. Install Debian's '{package}' package: sudo apt-get install -y {package}";

    public static string PortInUse(string resource, int port) =>
        $"{resource}: port {port} on 127.0.0.1 is already in use by another program. Stop that program or choose another port.";

    public static string NotACluster(string resource, string dataDirectory) =>
        $"{resource}: the data folder {dataDirectory} is not empty and is not a PostgreSQL cluster (it has no PG_VERSION). " +
        $"Point {LocalServerPaths.StateDirectoryKey} at another folder, or move that folder's contents away.";

    public static string WrongVersion(string resource, string dataDirectory, string clusterVersion, int installedMajor) =>
        $"{resource}: the cluster in {dataDirectory} was made by PostgreSQL {clusterVersion}, but PostgreSQL {installedMajor} is installed. " +
        $"Upgrade it with pg_upgrade, install PostgreSQL {clusterVersion}, or point {LocalServerPaths.StateDirectoryKey} at another folder.";

    public static string Unreachable(string resource, string dataDirectory, string account) =>
        $"{resource}: the '{account}' account cannot reach {dataDirectory} (PostgreSQL refuses to run as root, so it runs as '{account}', " +
        $"which needs search permission on every parent folder). Point {LocalServerPaths.StateDirectoryKey} (or ARTEMIS_STATE_DIR) at a folder it can reach, e.g. /var/lib/artemis.";

    public static string MissingAccount(string resource, string account) =>
        $"{resource}: the '{account}' account does not exist; PostgreSQL refuses to run as root and needs it. Reinstall Debian's 'postgresql' package.";

    public static string InitDbFailed(string resource, string dataDirectory, string output) =>
        $"{resource}: initdb could not create a cluster in {dataDirectory}: {output}";

    public static string DataDirectoryUnusable(string resource, string dataDirectory, string reason) =>
        $"{resource}: the data folder {dataDirectory} cannot be used: {reason}";

    public static string PasswordMismatch(LocalPostgresServerResource server) =>
        $"{server.Name}: the server refused the password in the AppHost's user secrets (Parameters:{server.PasswordParameter.Name}); " +
        $"the cluster in {server.DataDirectory} was made with another one. Restore the old value with " +
        $"'dotnet user-secrets set Parameters:{server.PasswordParameter.Name} <old> --project Artemis.AppHost', or move that data folder away to start afresh.";
}
