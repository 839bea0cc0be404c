using System.Diagnostics;
using System.Globalization;
using System.IO.Enumeration;
using System.Text;
using Artemis.Agents.Files;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Sandbox;

/// <summary>A program to run in a workspace, with an optional file (the code of run_code) shown read-only at /run/artemis.</summary>
public sealed record SandboxJob(string Workspace, IReadOnlyList<string> Command, string? FileName = null, string? FileContent = null, string? ScannedCode = null)
{
    /// <summary>Stands in <see cref="Command"/> for the path of the job's file, as the program will see it.</summary>
    public const string FilePlaceholder = "{file}";
}

/// <summary>What happened to a job; <see cref="KilledBy"/> names the limit that stopped it (timeout, cpu, memory, file_size, processes, output, workspace_quota).</summary>
public sealed record SandboxResult(
    int? ExitCode,
    string Stdout,
    string Stderr,
    bool TimedOut,
    string? KilledBy,
    long DurationMs,
    bool Truncated,
    bool Isolated,
    int Uid,
    IReadOnlyList<string> Warnings);

/// <summary>
/// Runs one job: <c>setpriv</c> (an unprivileged uid per concurrent job, so RLIMIT_NPROC binds and nothing runs as
/// root) → <c>prlimit</c> (CPU, address space, file size, processes, open files) → <c>bwrap</c> (new user, pid, net,
/// ipc, uts namespaces; read-only /usr; the workspace the only writable host folder; a size-capped private /tmp;
/// empty environment) → the program. A wall-clock timeout, an output cap and a workspace quota watchdog kill the
/// whole tree; killing bwrap kills its pid namespace, so a double-forked daemon dies with it. ADR 007.
/// </summary>
public sealed class SandboxRunner(IOptions<SandboxOptions> options, SandboxEnvironment environment, ILogger<SandboxRunner> logger)
{
    /// <summary>Job uids are <c>UidBase + slot</c>: far above any account, no passwd entry needed.</summary>
    public const int UidBase = 200000;

    /// <summary>How many jobs may run at once on this machine (each holds one uid).</summary>
    public const int Slots = 256;

    /// <summary>Output past the cap is still drained (so the writer never blocks) up to this many caps, then the job is killed.</summary>
    public const int OutputDrainFactor = 16;

    private static readonly string[] TopLevelSystemFolders = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
    private static readonly TimeSpan QuotaPollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Slot locks and job files. As root, under /run (only root writes there; a predictable name in the world-writable
    /// /tmp could be pre-made by another user), which the job uids can traverse to reach their read-only job folder.
    /// </summary>
    public static readonly string StateDirectory = System.Environment.IsPrivilegedProcess && Directory.Exists("/run")
        ? "/run/artemis-sandbox"
        : Path.Combine(Path.GetTempPath(), "artemis-sandbox");

    public SandboxEnvironment Environment => environment;

    /// <summary>/usr read-only, and /bin, /lib… as the host has them (symlinks into /usr on merged-usr Debian).</summary>
    public static IReadOnlyList<string> SystemMounts()
    {
        var arguments = new List<string> { "--ro-bind", "/usr", "/usr" };
        foreach (var top in TopLevelSystemFolders)
        {
            var path = "/" + top;
            if (new FileInfo(path).LinkTarget is { } target)
            {
                arguments.AddRange(["--symlink", target, path]);
            }
            else if (Directory.Exists(path))
            {
                arguments.AddRange(["--ro-bind", path, path]);
            }
        }

        return arguments;
    }

    public static IEnumerable<string> SwitchUserArguments(int uid) =>
        [$"--reuid={uid}", $"--regid={uid}", "--clear-groups", "--no-new-privs"];

    public async Task<SandboxResult> RunAsync(SandboxJob job, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (!environment.Isolated && !limits.AllowUnisolated)
        {
            throw new ToolFailureException(ToolErrorCodes.SandboxUnavailable,
                $"the sandbox is unavailable on this machine ({environment.Problem}); code is not run without isolation");
        }

        var workspace = new WorkspaceRoot(job.Workspace).FullPath;
        CheckReachable(workspace);
        var warnings = job.ScannedCode is null ? [] : PatternScan.Warnings(job.ScannedCode).ToList();
        if (!environment.Isolated)
        {
            warnings.Add("NOT ISOLATED: bubblewrap is unavailable and Sandbox:AllowUnisolated=true");
        }

        var slot = SandboxSlot.Acquire(StateDirectory);
        string? jobDirectory = null;
        var audited = false;
        try
        {
            var uid = environment.CanSwitchUser ? slot.Uid : -1;
            if (environment.CanSwitchUser)
            {
                // The last job of this uid was seen to leave nothing behind, or this looks (a crash, a first use).
                if (!slot.LeftClean)
                {
                    await KillLeftoversAsync(slot.Uid);
                }

                slot.MarkInUse();

                // The workspace belongs to this agent alone; the job's uid must own it to write, whichever slot it drew.
                ChangeOwner(workspace, slot.Uid);
            }

            jobDirectory = Directory.CreateDirectory(Path.Combine(StateDirectory, "jobs", Guid.NewGuid().ToString("N"))).FullName;
            File.SetUnixFileMode(jobDirectory, (UnixFileMode)0b111_101_101);
            string? hostFile = null;
            if (job.FileName is not null)
            {
                hostFile = Path.Combine(jobDirectory, job.FileName);
                await File.WriteAllTextAsync(hostFile, job.FileContent ?? "", cancellationToken);
                File.SetUnixFileMode(hostFile, (UnixFileMode)0b110_100_100);
            }

            var startInfo = BuildStartInfo(job, workspace, jobDirectory, hostFile, slot.Uid, limits);
            var result = await ExecuteAsync(startInfo, workspace, uid, environment.Isolated, limits, warnings, cancellationToken);
            SandboxLog.Finished(logger, uid, workspace, result.DurationMs, result.ExitCode, result.KilledBy ?? "nothing");

            // A job whose namespace ended by itself left nothing: its init exits only once every process in it is
            // gone, before bwrap (which waits for it) does. The scan that checks this can then run after the result is
            // returned, holding the uid until it is done. A job this runner killed (timeout, output, quota) is torn
            // down asynchronously by the kernel, so that check is waited for.
            if (environment.Isolated && environment.CanSwitchUser && result.KilledBy is not ("timeout" or "output" or "workspace_quota"))
            {
                audited = true;
                _ = AuditAsync(slot, jobDirectory);
            }

            return result;
        }
        finally
        {
            if (!audited)
            {
                await CloseAsync(slot, jobDirectory);
            }
        }
    }

    /// <summary>After the result is out: the check for leftovers, then the uid is released.</summary>
    private async Task AuditAsync(SandboxSlot slot, string jobDirectory)
    {
        try
        {
            await Task.Yield();
            await CloseAsync(slot, jobDirectory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            SandboxLog.CleanupFailed(logger, jobDirectory, exception);
        }
    }

    /// <summary>Kills what the uid left (if anything), marks it clean, removes the job folder and releases the uid.</summary>
    private async Task CloseAsync(SandboxSlot slot, string? jobDirectory)
    {
        try
        {
            if (environment.CanSwitchUser)
            {
                await KillLeftoversAsync(slot.Uid);
                slot.MarkClean();
            }

            if (jobDirectory is not null)
            {
                Directory.Delete(jobDirectory, recursive: true);
            }
        }
        finally
        {
            slot.Dispose();
        }
    }

    private ProcessStartInfo BuildStartInfo(SandboxJob job, string workspace, string jobDirectory, string? hostFile, int uid, SandboxOptions limits)
    {
        var arguments = new List<string>();
        if (environment.CanSwitchUser)
        {
            arguments.AddRange(SwitchUserArguments(uid));
        }

        arguments.AddRange([
            SandboxEnvironment.Prlimit,
            // Soft CPU limit sends SIGXCPU (reported as "cpu"); the hard one a second later is SIGKILL.
            $"--cpu={limits.CpuSeconds}:{limits.CpuSeconds + 1}",
            $"--as={(long)limits.MemoryMb * 1024 * 1024}",
            $"--fsize={(long)limits.MaxFileSizeMb * 1024 * 1024}",
            $"--nproc={limits.MaxProcesses}",
            $"--nofile={limits.MaxOpenFiles}",
            "--core=0",
            "--",
        ]);

        var filePath = environment.Isolated ? $"/run/artemis/{job.FileName}" : hostFile;
        var command = job.Command.Select(part => part == SandboxJob.FilePlaceholder ? filePath ?? part : part).ToList();
        if (environment.Isolated)
        {
            arguments.AddRange([
                SandboxEnvironment.Bwrap,
                "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                "--hostname", "sandbox",
            ]);
            arguments.AddRange(SystemMounts());

            // Only what programs need from /etc: no passwd, no shadow, no host configuration.
            arguments.AddRange([
                "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
                "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                "--proc", "/proc",
                "--dev", "/dev",
                "--size", ((long)limits.WorkspaceQuotaMb * 1024 * 1024).ToString(CultureInfo.InvariantCulture), "--tmpfs", "/tmp",
                "--bind", workspace, "/workspace",
                "--ro-bind", jobDirectory, "/run/artemis",
                "--chdir", "/workspace",
                // bwrap's root is a tmpfs with no size: read-only, or it would be a second, unbounded /tmp.
                "--remount-ro", "/",
                "--clearenv",
                "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
                "--setenv", "HOME", "/tmp",
                "--setenv", "TMPDIR", "/tmp",
                "--setenv", "LANG", "C.UTF-8",
                "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                "--setenv", "ARTEMIS_SANDBOX", "1",
                "--",
            ]);
        }

        arguments.AddRange(command);
        var startInfo = new ProcessStartInfo(environment.CanSwitchUser ? SandboxEnvironment.Setpriv : arguments[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workspace,
        };

        // Empty, not inherited: bubblewrap's own pid 1 keeps the environment it was started with, readable at
        // /proc/1/environ inside, whatever --clearenv does for the program.
        startInfo.Environment.Clear();
        if (!environment.Isolated)
        {
            startInfo.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
            startInfo.Environment["HOME"] = workspace;
            startInfo.Environment["LANG"] = "C.UTF-8";
        }

        foreach (var argument in environment.CanSwitchUser ? arguments : arguments.Skip(1))
        {
            startInfo.ArgumentList.Add(argument);
        }

        return startInfo;
    }

    private static async Task<SandboxResult> ExecuteAsync(ProcessStartInfo startInfo, string workspace, int uid, bool isolated, SandboxOptions limits,
        List<string> warnings, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        using var finished = new ManualResetEventSlim();
        using var process = await StartOnOwnThreadAsync(startInfo, finished);
        try
        {
            process.StandardInput.Close();
            return await SuperviseAsync(process, stopwatch, workspace, uid, isolated, limits, warnings, cancellationToken);
        }
        finally
        {
            finished.Set();
        }
    }

    /// <summary>
    /// Starts the launcher from a thread that lives until the job is over. bwrap's --die-with-parent is
    /// PR_SET_PDEATHSIG, which fires when the forking *thread* exits: started from a thread-pool thread that the pool
    /// then retires, a healthy job would be SIGKILLed mid-run.
    /// </summary>
    private static Task<Process> StartOnOwnThreadAsync(ProcessStartInfo startInfo, ManualResetEventSlim finished)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                started.SetResult(Process.Start(startInfo) ?? throw new InvalidOperationException("The sandbox launcher did not start"));
            }
            catch (Exception exception)
            {
                started.SetException(exception);
                return;
            }

            finished.Wait();
        })
        {
            IsBackground = true,
            Name = "sandbox job launcher",
        };
        thread.Start();
        return started.Task;
    }

    private static async Task<SandboxResult> SuperviseAsync(Process process, Stopwatch stopwatch, string workspace, int uid, bool isolated,
        SandboxOptions limits, List<string> warnings, CancellationToken cancellationToken)
    {

        string? killedBy = null;
        var gate = new Lock();
        void Kill(string reason)
        {
            lock (gate)
            {
                killedBy ??= reason;
            }

            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stdout = new CappedReader(process.StandardOutput.BaseStream, limits.MaxOutputBytes, () => Kill("output"));
        var stderr = new CappedReader(process.StandardError.BaseStream, limits.MaxOutputBytes, () => Kill("output"));
        var reading = Task.WhenAll(stdout.RunAsync(), stderr.RunAsync());

        var quotaBytes = Math.Max((long)limits.WorkspaceQuotaMb * 1024 * 1024, WorkspaceSize(workspace));
        var watchdog = WatchQuotaAsync(workspace, quotaBytes, () => Kill("workspace_quota"), stop.Token);

        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(stop.Token).WaitAsync(TimeSpan.FromSeconds(limits.TimeoutSeconds), cancellationToken);
        }
        catch (TimeoutException)
        {
            timedOut = true;
            Kill("timeout");
            await process.WaitForExitAsync(CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
            Kill("cancelled");
            await process.WaitForExitAsync(CancellationToken.None);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await watchdog;
        }

        // The pipes close when the last holder dies; everything in the namespace died with bwrap.
        await reading.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        stopwatch.Stop();

        if (killedBy is null && WorkspaceSize(workspace) > quotaBytes)
        {
            killedBy = "workspace_quota";
        }

        var exitCode = process.ExitCode;
        var error = stderr.Text;
        killedBy = Classify(killedBy, timedOut, exitCode, error + stdout.Text);
        return new SandboxResult(killedBy is "timeout" or "output" or "workspace_quota" || timedOut ? null : exitCode,
            stdout.Text, error, timedOut, killedBy, stopwatch.ElapsedMilliseconds,
            stdout.Truncated || stderr.Truncated, isolated, uid, warnings);
    }

    private const int SigKill = 9;
    private const int SigXcpu = 24;
    private const int SigXfsz = 25;

    /// <summary>Which limit stopped the job, from what we did, the exit status (bwrap reports 128+signal) and what the program said.</summary>
    private static string? Classify(string? killedBy, bool timedOut, int exitCode, string output)
    {
        var forkFailed = output.Contains("fork: retry", StringComparison.Ordinal) || output.Contains("fork: Resource temporarily unavailable", StringComparison.Ordinal)
            || output.Contains("BlockingIOError", StringComparison.Ordinal) || output.Contains("can't start new thread", StringComparison.Ordinal);
        if (forkFailed && (timedOut || killedBy is null && exitCode != 0))
        {
            return "processes";
        }

        if (killedBy is not null)
        {
            return killedBy;
        }

        if (exitCode == 128 + SigXcpu)
        {
            return "cpu";
        }

        if (exitCode == 128 + SigXfsz || output.Contains("File size limit exceeded", StringComparison.Ordinal))
        {
            return "file_size";
        }

        if (exitCode != 0 && (output.Contains("MemoryError", StringComparison.Ordinal) || output.Contains("Cannot allocate memory", StringComparison.Ordinal)
            || output.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || output.Contains("bad_alloc", StringComparison.Ordinal)))
        {
            return "memory";
        }

        return null;
    }

    private static async Task WatchQuotaAsync(string workspace, long quotaBytes, Action kill, CancellationToken cancellationToken)
    {
        try
        {
            var interval = QuotaPollInterval;
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(interval, cancellationToken);
                var size = WorkspaceSize(workspace);
                if (size > quotaBytes)
                {
                    kill();
                    return;
                }

                // Past half the quota, look ten times as often: a fast writer overshoots by what it writes between two
                // looks, and a workspace that big is worth the walk.
                interval = size > quotaBytes / 2 ? QuotaPollInterval / 10 : QuotaPollInterval;
            }
        }
        catch (OperationCanceledException)
        {
            // The job ended.
        }
    }

    /// <summary>Bytes in regular files under <paramref name="folder"/>, never following links (.NET's enumeration does follow them).</summary>
    public static long WorkspaceSize(string folder)
    {
        long total = 0;
        var pending = new Stack<string>([folder]);
        while (pending.TryPop(out var current))
        {
            IEnumerable<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(current);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var entry in entries)
            {
                UnixFile.LStat(entry, out var status);
                if (status.Kind == UnixFileKind.Regular)
                {
                    total += status.Size;
                }
                else if (status.Kind == UnixFileKind.Directory)
                {
                    pending.Push(entry);
                }
            }
        }

        return total;
    }

    /// <summary>lchown of the workspace and everything in it, links themselves and not their targets.</summary>
    private static void ChangeOwner(string folder, int uid)
    {
        UnixFile.LChangeOwner(folder, uid, uid);
        var pending = new Stack<string>([folder]);
        while (pending.TryPop(out var current))
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(current))
            {
                UnixFile.LChangeOwner(entry, uid, uid);
                UnixFile.LStat(entry, out var status);
                if (status.Kind == UnixFileKind.Directory)
                {
                    pending.Push(entry);
                }
            }
        }
    }

    /// <summary>The sandbox uid must be able to reach the workspace: every parent folder needs the others' x bit.</summary>
    private static void CheckReachable(string workspace)
    {
        for (var folder = Path.GetDirectoryName(workspace); folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if ((File.GetUnixFileMode(folder) & UnixFileMode.OtherExecute) == 0)
            {
                throw new ToolFailureException(ToolErrorCodes.SandboxUnavailable,
                    $"the workspace '{workspace}' cannot be reached by the sandbox user: '{folder}' is not searchable by others (chmod o+x, or move Workspace:Root)");
            }
        }
    }

    /// <summary>
    /// Kills every process of a sandbox uid and waits until none is left. Normally the kernel is already tearing down
    /// the job's pid namespace (bwrap exited, everything in it gets SIGKILL), which takes a few milliseconds; the
    /// slot is not reused before that is done. Anything alive after seconds of SIGKILL is logged.
    /// </summary>
    public async Task<int> KillLeftoversAsync(int uid)
    {
        var pids = ProcessesOf(uid);
        var first = pids.Count;
        for (var attempt = 0; pids.Count > 0; attempt++)
        {
            if (attempt == 300)
            {
                SandboxLog.KilledLeftovers(logger, pids.Count, uid);
                break;
            }

            foreach (var pid in pids)
            {
                UnixFile.SendSignal(pid, SigKill);
            }

            await Task.Delay(10);
            pids = ProcessesOf(uid);
        }

        return first;
    }

    /// <summary>
    /// Live pids whose real uid is <paramref name="uid"/>, from /proc. Zombies are dead already: bwrap's namespace
    /// init is reparented to the host's pid 1 when bwrap exits, and waits there until that init reaps it.
    /// </summary>
    /// <remarks>
    /// Runs twice per job, so it reads each <c>/proc/PID/status</c> into one stack buffer and parses bytes: with a
    /// line reader per file a scan of ~100 processes took 3–5 ms (bench/results/sandbox.md), about a third of the
    /// runner's own cost per job.
    /// </remarks>
    public static IReadOnlyList<int> ProcessesOf(int uid)
    {
        var found = new List<int>();
        Span<byte> wanted = stackalloc byte[16];
        uid.TryFormat(wanted, out var length, provider: CultureInfo.InvariantCulture);
        wanted = wanted[..length];
        Span<byte> buffer = stackalloc byte[2048];
        Span<byte> path = stackalloc byte[32];
        var pids = new FileSystemEnumerable<int>("/proc", static (ref entry) => int.Parse(entry.FileName, CultureInfo.InvariantCulture),
            new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true })
        {
            ShouldIncludePredicate = static (ref entry) => entry.IsDirectory && int.TryParse(entry.FileName, NumberStyles.None, CultureInfo.InvariantCulture, out _),
        };
        foreach (var pid in pids)
        {
            var read = UnixFile.ReadProcStatus(pid, path, buffer);
            if (read > 0 && StatusMatches(buffer[..read], wanted))
            {
                found.Add(pid);
            }
        }

        return found;
    }

    /// <summary>Whether a <c>/proc/PID/status</c> text is of a live (not zombie) process whose real uid is <paramref name="uid"/>.</summary>
    private static bool StatusMatches(ReadOnlySpan<byte> status, ReadOnlySpan<byte> uid)
    {
        var state = status.IndexOf("\nState:\t"u8);
        if (state >= 0 && status[(state + 8)..].StartsWith("Z"u8))
        {
            return false;
        }

        var line = status.IndexOf("\nUid:\t"u8);
        if (line < 0)
        {
            return false;
        }

        // "Uid:\treal\teffective\tsaved\tfs": the real uid is the first field.
        var real = status[(line + 6)..];
        var end = real.IndexOfAny((byte)'\t', (byte)'\n');
        return end > 0 && real[..end].SequenceEqual(uid);
    }

    /// <summary>Reads a stream to its end, keeping the first <c>cap</c> bytes; kills the job when far more keeps coming.</summary>
    private sealed class CappedReader(Stream stream, int cap, Action overflow)
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _kept = new();
        private long _total;

        public bool Truncated => _total > cap;

        public string Text => Encoding.UTF8.GetString(_kept.WrittenSpan);

        public async Task RunAsync()
        {
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                var keep = (int)Math.Clamp(cap - _total, 0, read);
                System.Buffers.BuffersExtensions.Write(_kept, buffer.AsSpan(0, keep));
                _total += read;
                if (_total > (long)cap * OutputDrainFactor)
                {
                    overflow();
                }
            }
        }
    }
}

/// <summary>
/// One of the <see cref="SandboxRunner.Slots"/> uids, held through an exclusive lock file so two processes on the
/// machine (the service and a test run, say) never share a uid: RLIMIT_NPROC counts per uid, and leftovers of a uid
/// are killed before its next job.
/// </summary>
public sealed class SandboxSlot : IDisposable
{
    private readonly FileStream _lock;

    private const byte Clean = (byte)'c';
    private const byte InUse = (byte)'u';

    private SandboxSlot(FileStream lockFile, int uid)
    {
        _lock = lockFile;
        Uid = uid;
        Span<byte> mark = stackalloc byte[1];
        LeftClean = RandomAccess.Read(lockFile.SafeFileHandle, mark, 0) == 1 && mark[0] == Clean;
    }

    public int Uid { get; }

    /// <summary>
    /// Whether the uid's last job was seen to leave no process behind (the lock file's first byte), so the scan for
    /// leftovers before this job can be skipped. A job that did not get as far as that check (a crash of the service
    /// mid-job) leaves the slot marked in use, and the next holder scans.
    /// </summary>
    public bool LeftClean { get; }

    public void MarkInUse() => RandomAccess.Write(_lock.SafeFileHandle, [InUse], 0);

    public void MarkClean() => RandomAccess.Write(_lock.SafeFileHandle, [Clean], 0);

    public static SandboxSlot Acquire(string stateDirectory)
    {
        var folder = Directory.CreateDirectory(Path.Combine(stateDirectory, "slots")).FullName;
        File.SetUnixFileMode(stateDirectory, (UnixFileMode)0b111_101_101);
        // Lowest free first: the same few uids serve most jobs, so their clean marks spare most jobs the scan before.
        for (var slot = 0; slot < SandboxRunner.Slots; slot++)
        {
            try
            {
                // FileShare.None takes flock(LOCK_EX|LOCK_NB) on Linux: held until disposed, released if we die.
                var stream = new FileStream(Path.Combine(folder, $"{slot}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return new SandboxSlot(stream, SandboxRunner.UidBase + slot);
            }
            catch (IOException)
            {
                // Taken: try the next.
            }
        }

        throw new ToolFailureException(ToolErrorCodes.LimitExceeded, $"all {SandboxRunner.Slots} sandbox slots are busy; try again later");
    }

    public void Dispose() => _lock.Dispose();
}
