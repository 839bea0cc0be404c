using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;

namespace Artemis.Agents.Tests.Sandbox;

/// <summary>
/// The sandbox corpus: hostile programs, each contained and stopped by the right limit, leaving no process behind,
/// and legitimate programs that work. Real bubblewrap, real uids: a machine without it fails here, loudly.
/// </summary>
[Collection(SandboxTestGroup.Name)]
public sealed class SandboxCorpusTests(SandboxFixture fixture) : IDisposable
{
    private readonly string _workspace = SandboxFixture.NewWorkspace();

    private SandboxPlugin Plugin(string? testCommand = null, SandboxOptions? limits = null) => new(fixture.Runner(limits), _workspace, testCommand);

    private static FileStream HoldSlot(int uid)
    {
        var path = Path.Combine(SandboxRunner.StateDirectory, "slots", $"{uid - SandboxRunner.UidBase}.lock");
        for (var tries = 0; ; tries++)
        {
            try
            {
                return new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (tries < 600)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    private void AssertNothingLeft(JsonElement result, string? marker = null)
    {
        Assert.True(result.GetProperty("isolated").GetBoolean(), result.ToString());
        var uids = fixture.UidsOf(_workspace);
        Assert.NotEmpty(uids);
        foreach (var uid in uids)
        {
            // Holding the uid's slot lock keeps other jobs (other tests, the whole-app tests) off it while we look.
            using var slot = HoldSlot(uid);
            Assert.Empty(SandboxRunner.ProcessesOf(uid));
        }

        if (marker is not null)
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
            {
                string commandLine;
                try
                {
                    commandLine = File.ReadAllText(Path.Combine(directory, "cmdline"));
                }
                catch (IOException)
                {
                    continue;
                }

                Assert.DoesNotContain(marker, commandLine, StringComparison.Ordinal);
            }
        }
    }

    private static void AssertStoppedBy(JsonElement result, string killedBy, string code)
    {
        Assert.False(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal(code, result.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(killedBy, result.GetProperty("killedBy").GetString());
    }

    [Fact]
    public void This_machine_isolates_jobs_with_bubblewrap()
    {
        Assert.True(fixture.Environment.Isolated, $"bubblewrap must work here (scripts/setup.sh installs it): {fixture.Environment.Problem}");
        Assert.True(fixture.Environment.CanSwitchUser, "the tests run as root, so each job gets its own uid");
    }

    [Fact]
    public async Task A_fork_bomb_is_stopped_by_the_process_limit()
    {
        var result = Parse(await Plugin().RunCodeAsync("bash", ":(){ :|:& };:; sleep 30"));

        AssertStoppedBy(result, "processes", ToolErrorCodes.LimitExceeded);
        Assert.Contains("fork bomb", result.GetProperty("warnings").ToString(), StringComparison.Ordinal);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_memory_hog_is_stopped_by_the_memory_limit()
    {
        var result = Parse(await Plugin().RunCodeAsync("python", "x = bytearray(512 * 1024 * 1024)\nprint('allocated')"));

        AssertStoppedBy(result, "memory", ToolErrorCodes.LimitExceeded);
        Assert.DoesNotContain("allocated", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_cpu_spin_is_stopped_by_the_cpu_limit()
    {
        // A generous wall clock: on a loaded machine the spin may get well under one CPU second per second.
        var limits = SandboxFixture.SmallLimits();
        limits.CpuSeconds = 1;
        limits.TimeoutSeconds = 30;
        var result = Parse(await Plugin(limits: limits).RunCommandAsync("while :; do :; done"));

        AssertStoppedBy(result, "cpu", ToolErrorCodes.LimitExceeded);
        Assert.False(result.GetProperty("timedOut").GetBoolean());
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_file_larger_than_the_file_size_limit_is_stopped()
    {
        var result = Parse(await Plugin().RunCommandAsync("head -c 10000000 /dev/zero > big.bin"));

        AssertStoppedBy(result, "file_size", ToolErrorCodes.LimitExceeded);
        Assert.True(new FileInfo(Path.Combine(_workspace, "big.bin")).Length <= 4 * 1024 * 1024);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_disk_filler_is_stopped_by_the_workspace_quota()
    {
        var result = Parse(await Plugin().RunCommandAsync("for i in $(seq 1 200); do head -c 3000000 /dev/zero > fill$i.bin; sleep 0.02; done"));

        AssertStoppedBy(result, "workspace_quota", ToolErrorCodes.LimitExceeded);
        // 600 MB if it ran to the end; stopped within a few looks of the watchdog after crossing 16 MB (the bound leaves
        // room for a machine busy with every test assembly at once: a CI run measured > 40 MB).
        var size = SandboxRunner.WorkspaceSize(_workspace);
        Assert.True(size < 64L * 1024 * 1024, $"stopped soon after crossing the 16 MB quota, at {size / (1024 * 1024)} MB");
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_disk_filler_in_tmp_is_bounded_by_the_tmpfs_size()
    {
        var result = Parse(await Plugin().RunCommandAsync("for i in $(seq 1 20); do head -c 3000000 /dev/zero > /tmp/fill$i || { echo full at $i; exit 3; }; done"));

        Assert.Equal(3, result.GetProperty("exitCode").GetInt32());
        Assert.Contains("full at", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_hundred_megabytes_of_stdout_are_capped_and_the_writer_is_stopped()
    {
        var result = Parse(await Plugin().RunCommandAsync("head -c 100000000 /dev/zero | tr '\\0' a; echo done"));

        AssertStoppedBy(result, "output", ToolErrorCodes.LimitExceeded);
        Assert.True(result.GetProperty("truncated").GetBoolean());
        Assert.Equal(64 * 1024, result.GetProperty("stdout").GetString()!.Length);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task The_network_outside_is_unreachable()
    {
        var result = Parse(await Plugin().RunCodeAsync("python", """
            import socket
            for host in ["1.1.1.1", "8.8.8.8"]:
                try:
                    socket.create_connection((host, 53), timeout=2)
                    print("connected", host)
                except OSError as e:
                    print("blocked", host, e)
            """));

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.DoesNotContain("connected", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        Assert.Contains("blocked 1.1.1.1", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_host_loopback_port_is_unreachable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var result = Parse(await Plugin().RunCodeAsync("python", $"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print("connected")
            except OSError as e:
                print("blocked", e)
            """));

        Assert.StartsWith("blocked", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        Assert.False(listener.Pending(), "nothing reached the host's listener");
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task Host_secrets_are_not_readable()
    {
        const string secret = "artemis-test-secret-5c1e0a";
        Environment.SetEnvironmentVariable("ARTEMIS_TEST_SECRET", secret);
        try
        {
            var result = Parse(await Plugin().RunCommandAsync(
                "cat /etc/shadow; cat /etc/passwd; env; tr '\\0' '\\n' < /proc/1/environ; cat /proc/*/environ; ls /root /home; cat /proc/1/cmdline; echo end"));

            var output = result.GetProperty("stdout").GetString() + result.GetProperty("stderr").GetString();
            Assert.Contains("end", output, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
            Assert.DoesNotContain("ARTEMIS_TEST_SECRET", output, StringComparison.Ordinal);
            Assert.DoesNotContain("root:", output, StringComparison.Ordinal);
            Assert.Contains("/etc/shadow: No such file or directory", output, StringComparison.Ordinal);
            AssertNothingLeft(result);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ARTEMIS_TEST_SECRET", null);
        }
    }

    [Fact]
    public async Task Nothing_outside_the_workspace_is_writable()
    {
        var marker = $"artemis-escape-{Guid.NewGuid():N}";
        var result = Parse(await Plugin().RunCommandAsync(
            $"for target in /usr/{marker} /usr/bin/{marker} /etc/{marker} /{marker} /run/artemis/{marker} /proc/{marker}; do echo x > $target && echo wrote $target; done; echo end"));

        Assert.DoesNotContain("wrote", result.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        foreach (var path in new[] { $"/usr/{marker}", $"/usr/bin/{marker}", $"/etc/{marker}", $"/{marker}" })
        {
            Assert.False(File.Exists(path), path);
        }

        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_double_forked_daemon_does_not_outlive_its_job()
    {
        var marker = $"artemis-daemon-{Guid.NewGuid():N}";
        var result = Parse(await Plugin().RunCommandAsync(
            $"(setsid bash -c 'exec -a {marker} sleep 60' > /dev/null 2>&1 < /dev/null &) ; sleep 0.3; echo started"));

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal("started\n", result.GetProperty("stdout").GetString());
        AssertNothingLeft(result, marker);
    }

    [Fact]
    public async Task Sleeping_children_are_killed_at_the_timeout()
    {
        var marker = $"artemis-sleeper-{Guid.NewGuid():N}";
        var result = Parse(await Plugin().RunCommandAsync($"(exec -a {marker} sleep 60) & (exec -a {marker} sleep 60) & wait"));

        AssertStoppedBy(result, "timeout", ToolErrorCodes.Timeout);
        Assert.True(result.GetProperty("timedOut").GetBoolean());
        Assert.InRange(result.GetProperty("durationMs").GetInt64(), 3_500, 10_000);
        AssertNothingLeft(result, marker);
    }

    [Fact]
    public async Task A_passing_python_test_suite_runs()
    {
        await File.WriteAllTextAsync(Path.Combine(_workspace, "calc.py"), "def add(a, b):\n    return a + b\n");
        await File.WriteAllTextAsync(Path.Combine(_workspace, "test_calc.py"), "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n");

        var result = Parse(await Plugin("python3 -m unittest -v").RunTestsAsync());

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal(0, result.GetProperty("exitCode").GetInt32());
        Assert.Contains("OK", result.GetProperty("stderr").GetString(), StringComparison.Ordinal);
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task A_failing_test_suite_is_a_result_not_a_tool_error()
    {
        var result = Parse(await Plugin("exit 1").RunTestsAsync());

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal(1, result.GetProperty("exitCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("killedBy").ValueKind);
    }

    [Fact]
    public async Task Files_written_by_a_job_land_in_the_workspace()
    {
        var result = Parse(await Plugin().RunCodeAsync("python", "import os\nos.makedirs('out/deep', exist_ok=True)\nopen('out/deep/result.txt', 'w').write('42')\nprint(os.getcwd())"));

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal("/workspace\n", result.GetProperty("stdout").GetString());
        Assert.Equal("42", await File.ReadAllTextAsync(Path.Combine(_workspace, "out", "deep", "result.txt")));
        AssertNothingLeft(result);
    }

    [Fact]
    public async Task Bash_code_runs_with_a_clean_environment()
    {
        var result = Parse(await Plugin().RunCodeAsync("bash", "echo $((6 * 7)); echo \"$PATH\"; id -u"));

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        var lines = result.GetProperty("stdout").GetString()!.Split('\n');
        Assert.Equal("42", lines[0]);
        Assert.Equal("/usr/local/bin:/usr/bin:/bin", lines[1]);
        Assert.InRange(int.Parse(lines[2], System.Globalization.CultureInfo.InvariantCulture), SandboxRunner.UidBase, SandboxRunner.UidBase + SandboxRunner.Slots - 1);
    }

    [Fact]
    public async Task Run_tests_without_a_test_command_is_a_structured_error()
    {
        Assert.Equal("""{"ok":false,"error":{"code":"no_test_command","message":"this card has no test command; run the tests with run_command"}}""", await Plugin().RunTestsAsync());
    }

    [Fact]
    public async Task An_unknown_language_is_refused()
    {
        var result = Parse(await Plugin().RunCodeAsync("cobol", "DISPLAY 'HI'."));

        Assert.Equal(ToolErrorCodes.UnsupportedLanguage, result.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Concurrent_jobs_get_distinct_uids_and_do_not_interfere()
    {
        var workspaces = Enumerable.Range(0, 4).Select(_ => SandboxFixture.NewWorkspace()).ToArray();
        try
        {
            var runner = fixture.Runner();
            var results = await Task.WhenAll(workspaces.Select((workspace, i) =>
                new SandboxPlugin(runner, workspace).RunCommandAsync($"id -u; echo {i} > mine.txt; sleep 1; cat mine.txt")));

            var parsed = results.Select(Parse).ToArray();
            Assert.All(parsed, result => Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString()));
            var uids = parsed.Select(result => result.GetProperty("stdout").GetString()!.Split('\n')[0]).ToArray();
            Assert.True(uids.Distinct().Count() == 4, string.Join("\n", results));
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal($"{i}", parsed[i].GetProperty("stdout").GetString()!.Split('\n')[1]);
            }
        }
        finally
        {
            foreach (var workspace in workspaces)
            {
                Directory.Delete(workspace, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Without_bubblewrap_jobs_are_refused_unless_unisolated_runs_are_allowed()
    {
        var missing = SandboxEnvironment.Unavailable("/usr/bin/bwrap not found");

        var refused = Parse(await new SandboxPlugin(fixture.Runner(environment: missing), _workspace).RunCommandAsync("echo hi"));
        Assert.Equal(ToolErrorCodes.SandboxUnavailable, refused.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("/usr/bin/bwrap not found", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var limits = SandboxFixture.SmallLimits();
        limits.AllowUnisolated = true;
        var unisolated = Parse(await new SandboxPlugin(fixture.Runner(limits, missing), _workspace).RunCommandAsync("echo hi"));
        Assert.True(unisolated.GetProperty("ok").GetBoolean(), unisolated.ToString());
        Assert.False(unisolated.GetProperty("isolated").GetBoolean());
        Assert.Equal("hi\n", unisolated.GetProperty("stdout").GetString());
        Assert.Contains("NOT ISOLATED", unisolated.GetProperty("warnings").ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_workspace, recursive: true);
}
