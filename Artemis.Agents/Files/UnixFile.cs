using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Artemis.Agents.Files;

/// <summary>What lstat says a path is, without following a final symbolic link.</summary>
public enum UnixFileKind
{
    Missing,
    Regular,
    Directory,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// <summary>The part of <c>struct statx</c> confinement needs.</summary>
public readonly record struct UnixFileStatus(UnixFileKind Kind, long Size, ulong Inode, ulong Device, uint Uid);

/// <summary>
/// The few POSIX calls .NET does not expose: lstat with the file type (FileSystemInfo cannot tell a FIFO from a file),
/// open with O_NOFOLLOW|O_NONBLOCK (File.OpenHandle would block on a FIFO swapped in after the check) and lchown.
/// statx is used because its struct has one layout on every architecture, unlike struct stat.
/// </summary>
internal static partial class UnixFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    public const int ENOENT = 2;
    public const int EACCES = 13;
    public const int EPERM = 1;
    public const int ENOTDIR = 20;
    public const int ELOOP = 40;
    public const int ENAMETOOLONG = 36;
    public const int EISDIR = 21;
    public const int ENXIO = 6;

    // O_* values differ between x86-64 and arm64 for O_DIRECTORY and O_NOFOLLOW; the rest are generic.
    private const int ORdOnly = 0;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int dirFd, string path, int flags, uint mask, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int OpenBytes(ReadOnlySpan<byte> path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, Span<byte> buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>lstat: a missing path is <see cref="UnixFileKind.Missing"/>; other failures return the errno.</summary>
    public static int LStat(string path, out UnixFileStatus status)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (StatX(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            status = new UnixFileStatus(UnixFileKind.Missing, 0, 0, 0, 0);
            return errno == ENOENT ? 0 : errno;
        }

        status = Parse(buffer);
        return 0;
    }

    /// <summary>fstat of an open handle, to prove the file opened is the one that was checked.</summary>
    public static UnixFileStatus FStat(SafeFileHandle handle)
    {
        Span<byte> buffer = stackalloc byte[256];
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (StatX((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxBasicStats, buffer) != 0)
            {
                throw new IOException($"fstat failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        return Parse(buffer);
    }

    private static UnixFileStatus Parse(ReadOnlySpan<byte> buffer)
    {
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => UnixFileKind.Regular,
            0x4000 => UnixFileKind.Directory,
            0xA000 => UnixFileKind.SymbolicLink,
            0x2000 => UnixFileKind.CharacterDevice,
            0x6000 => UnixFileKind.BlockDevice,
            0x1000 => UnixFileKind.Fifo,
            _ => UnixFileKind.Socket,
        };
        var uid = BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]);
        var inode = BinaryPrimitives.ReadUInt64LittleEndian(buffer[32..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(buffer[40..]);
        var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(buffer[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(buffer[140..]);
        return new UnixFileStatus(kind, size, inode, device, uid);
    }

    /// <summary>Opens for reading without following a final symlink and without ever blocking (FIFOs).</summary>
    public static SafeFileHandle OpenReadNoFollow(string path, out int errno)
    {
        var fd = Open(path, ORdOnly | ONonBlock | OCloExec | ONoFollow, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    public static int LChangeOwner(string path, int uid, int gid) =>
        LChown(path, uid, gid) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static bool SendSignal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>
    /// The start of <c>/proc/PID/status</c> read into <paramref name="buffer"/> with three system calls and no
    /// allocation (<paramref name="path"/> is scratch space for the file name); 0 when the process is gone.
    /// </summary>
    public static int ReadProcStatus(int pid, Span<byte> path, Span<byte> buffer)
    {
        "/proc/"u8.CopyTo(path);
        pid.TryFormat(path[6..], out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        "/status\0"u8.CopyTo(path[(6 + digits)..]);
        var fd = OpenBytes(path, ORdOnly | OCloExec, 0);
        if (fd < 0)
        {
            return 0;
        }

        try
        {
            var read = Read(fd, buffer, buffer.Length);
            return read > 0 ? (int)read : 0;
        }
        finally
        {
            _ = Close(fd);
        }
    }
}
