using System.Diagnostics;

namespace Artemis.Agents.Sandbox;

/// <summary>
/// What this machine offers the sandbox, checked once at start by really running an empty job: the binaries exist
/// and an unprivileged uid can make bubblewrap's namespaces (some kernels and containers forbid user namespaces).
/// </summary>
public sealed class SandboxEnvironment
{
    public const string Bwrap = "/usr/bin/bwrap";
    public const string Setpriv = "/usr/bin/setpriv";
    public const string Prlimit = "/usr/bin/prlimit";

    private static readonly string[] Required = [Bwrap, Prlimit];
    private static readonly string[] ProbeNamespaces = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"];
    private static readonly string[] ProbeProgram = ["--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"];

    private SandboxEnvironment(bool isolated, bool canSwitchUser, string? problem)
    {
        Isolated = isolated;
        CanSwitchUser = canSwitchUser;
        Problem = problem;
    }

    /// <summary>bubblewrap works here: jobs run isolated.</summary>
    public bool Isolated { get; }

    /// <summary>We are root and have setpriv: each job gets its own unprivileged uid.</summary>
    public bool CanSwitchUser { get; }

    /// <summary>Why <see cref="Isolated"/> is false, for the log and the error the model gets.</summary>
    public string? Problem { get; }

    /// <summary>A machine without bubblewrap, as <see cref="Probe"/> would find it (and as tests of the refusal need it).</summary>
    public static SandboxEnvironment Unavailable(string problem) =>
        new(false, Environment.IsPrivilegedProcess && File.Exists(Setpriv), problem);

    public static SandboxEnvironment Probe()
    {
        var canSwitchUser = Environment.IsPrivilegedProcess && File.Exists(Setpriv);
        var missing = Required.Where(path => !File.Exists(path)).ToList();
        if (missing.Count > 0)
        {
            return new SandboxEnvironment(false, canSwitchUser, $"{string.Join(" and ", missing)} not found (install the Debian packages bubblewrap and util-linux)");
        }

        var startInfo = new ProcessStartInfo(canSwitchUser ? Setpriv : Bwrap)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        startInfo.Environment.Clear();
        if (canSwitchUser)
        {
            foreach (var argument in SandboxRunner.SwitchUserArguments(SandboxRunner.UidBase - 1))
            {
                startInfo.ArgumentList.Add(argument);
            }

            startInfo.ArgumentList.Add(Bwrap);
        }

        foreach (var argument in ProbeNamespaces.Concat(SandboxRunner.SystemMounts()).Concat(ProbeProgram))
        {
            startInfo.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(startInfo)!;
            var errors = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return new SandboxEnvironment(false, canSwitchUser, "bubblewrap did not finish an empty job within 10 s");
            }

            return process.ExitCode == 0
                ? new SandboxEnvironment(true, canSwitchUser, null)
                : new SandboxEnvironment(false, canSwitchUser, $"bubblewrap cannot create its namespaces here (user namespaces disabled?): {errors.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return new SandboxEnvironment(false, canSwitchUser, $"bubblewrap cannot be started: {exception.Message}");
        }
    }
}
