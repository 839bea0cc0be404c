using System.Runtime.InteropServices;

namespace Artemis.AppHost.LocalServers;

/// <summary>The few POSIX calls the local servers need that .NET does not expose: who we are, and chown.</summary>
internal static partial class UnixAccounts
{
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>uid and gid of a local account, from /etc/passwd (Debian's packages create their accounts there).</summary>
    public static (uint Uid, uint Gid)? Find(string account)
    {
        if (!File.Exists("/etc/passwd"))
        {
            return null;
        }

        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == account
                && uint.TryParse(fields[2], out var uid) && uint.TryParse(fields[3], out var gid))
            {
                return (uid, gid);
            }
        }

        return null;
    }

    public static void ChangeOwner(string path, (uint Uid, uint Gid) owner)
    {
        if (Chown(path, owner.Uid, owner.Gid) != 0)
        {
            throw new IOException($"chown {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, uint owner, uint group);
}
