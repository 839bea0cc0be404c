using System.Diagnostics;
using Artemis.Agents.Configuration;
using Artemis.Agents.Tests.Sandbox;

namespace Artemis.Agents.Tests.Tool;

/// <summary>
/// The <c>tool</c> verb as operators run it: in-process through the real command line (exact stdout, exit code), and
/// as the built service binary where the environment or another uid matters.
/// </summary>
[Collection(SandboxTestGroup.Name)]
public sealed class ToolVerbTests : IDisposable
{
    private readonly string _workspace = Directory.CreateTempSubdirectory("artemis-tool-").FullName;

    public ToolVerbTests()
    {
        File.WriteAllText(Path.Combine(_workspace, "a.txt"), "hello\n");
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ArtemisCommandLine.InvokeAsync(arguments, _ => throw new InvalidOperationException("the service must not start"), output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunBinaryAsync(Dictionary<string, string> environment, string[] prefix, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(prefix.Length > 0 ? prefix[0] : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in prefix.Skip(1).Concat(prefix.Length > 0 ? ["/usr/bin/dotnet"] : []).Append(Path.Combine(AppContext.BaseDirectory, "Artemis.Agents.dll")).Concat(arguments))
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var key in startInfo.Environment.Keys.Where(key => key.StartsWith("Artemis__", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Tool_prints_exactly_the_json_the_model_gets()
    {
        var (exitCode, output, _) = await RunAsync("tool", "files.read_file", "--workspace", _workspace, "--arg", "path=a.txt");

        Assert.Equal(0, exitCode);
        Assert.Equal("""{"ok":true,"path":"a.txt","size":6,"content":"hello\n"}""" + "\n", output);
    }

    [Fact]
    public async Task A_structured_tool_error_is_still_exit_0()
    {
        var (exitCode, output, _) = await RunAsync("tool", "files.read_file", "--workspace", _workspace, "--arg", "path=../../etc/passwd");

        Assert.Equal(0, exitCode);
        Assert.Equal("""{"ok":false,"error":{"code":"outside_workspace","message":"'../../etc/passwd' is outside the workspace: only paths inside it can be used"}}""" + "\n", output);
    }

    [Fact]
    public async Task Args_json_carries_a_nul_byte_that_argv_cannot()
    {
        var (exitCode, output, _) = await RunAsync("tool", "files.read_file", "--workspace", _workspace, "--args-json", """{"path":"a.txt\u0000.png"}""");

        Assert.Equal(0, exitCode);
        Assert.Equal("""{"ok":false,"error":{"code":"invalid_path","message":"the path contains a NUL character"}}""" + "\n", output);
    }

    [Fact]
    public async Task Write_then_list_through_the_verb()
    {
        var (writeExit, written, _) = await RunAsync("tool", "files.write_file", "--workspace", _workspace, "--arg", "path=src/new.py", "--arg", "content=print('hi')");
        var (listExit, listed, _) = await RunAsync("tool", "files.list_dir", "--workspace", _workspace, "--arg", "path=src");

        Assert.Equal((0, 0), (writeExit, listExit));
        Assert.Equal("""{"ok":true,"path":"src/new.py","size":11,"created":true}""" + "\n", written);
        Assert.Equal("""{"ok":true,"path":"src","entries":[{"name":"new.py","type":"file","size":11}],"truncated":false}""" + "\n", listed);
    }

    [Theory]
    [InlineData("unknown plugin 'nope'", "tool", "nope.read_file", "--workspace", "{ws}", "--arg", "path=a.txt")]
    [InlineData("unknown function 'files.delete_everything'", "tool", "files.delete_everything", "--workspace", "{ws}")]
    [InlineData("is not plugin.function", "tool", "read_file", "--workspace", "{ws}")]
    [InlineData("--workspace DIR is required", "tool", "files.read_file", "--arg", "path=a.txt")]
    [InlineData("does not exist", "tool", "files.read_file", "--workspace", "/nonexistent-artemis", "--arg", "path=a.txt")]
    [InlineData("needs the argument 'path'", "tool", "files.read_file", "--workspace", "{ws}")]
    [InlineData("has no argument 'file'", "tool", "files.read_file", "--workspace", "{ws}", "--arg", "file=a.txt")]
    [InlineData("is not name=value", "tool", "files.read_file", "--workspace", "{ws}", "--arg", "a.txt")]
    [InlineData("--args-json is not valid JSON", "tool", "files.read_file", "--workspace", "{ws}", "--args-json", "{path:")]
    public async Task Usage_errors_exit_2_with_a_clear_message(string message, params string[] arguments)
    {
        var (exitCode, output, error) = await RunAsync(arguments.Select(a => a.Replace("{ws}", _workspace, StringComparison.Ordinal)).ToArray());

        Assert.Equal(ArtemisCommandLine.Invalid, exitCode);
        Assert.Equal("", output);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_command_line_is_a_non_zero_exit()
    {
        var (exitCode, output, _) = await RunAsync("tool");

        Assert.NotEqual(0, exitCode);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task The_sandbox_runs_through_the_verb()
    {
        var (exitCode, output, _) = await RunAsync("tool", "sandbox.run_code", "--workspace", _workspace, "--arg", "language=python", "--arg", "code=print(open('a.txt').read().upper())");

        Assert.Equal(0, exitCode);
        Assert.StartsWith("""{"ok":true,"exitCode":0,"stdout":"HELLO\n\n","stderr":"","timedOut":false,"killedBy":null,"durationMs":""", output, StringComparison.Ordinal);
        Assert.EndsWith(""","truncated":false,"isolated":true,"warnings":[]}""" + "\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_service_configuration_sets_the_sandbox_limits()
    {
        var (exitCode, output, error) = await RunBinaryAsync(
            new() { ["Artemis__Sandbox__MaxOutputBytes"] = "5", ["Artemis__Sandbox__TimeoutSeconds"] = "2" }, [],
            "tool", "sandbox.run_command", "--workspace", _workspace, "--arg", "command=echo hello world; sleep 10");

        Assert.True(exitCode == 0, error);
        Assert.Contains("\"stdout\":\"hello\"", output, StringComparison.Ordinal);
        Assert.Contains("\"truncated\":true", output, StringComparison.Ordinal);
        Assert.Contains("\"killedBy\":\"timeout\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_limit_in_the_environment_is_a_usage_error()
    {
        var (exitCode, _, error) = await RunBinaryAsync(new() { ["Artemis__Sandbox__CpuSeconds"] = "-1" }, [],
            "tool", "sandbox.run_command", "--workspace", _workspace, "--arg", "command=true");

        Assert.Equal(ArtemisCommandLine.Invalid, exitCode);
        Assert.Contains("Artemis:Sandbox:CpuSeconds: must be > 0, was -1", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreadable_file_is_permission_denied_for_a_user_that_permissions_bind()
    {
        // As root permission bits do not bind, so the verb runs as an unprivileged uid: a real EACCES from open(2).
        var secret = Path.Combine(_workspace, "secret.txt");
        await File.WriteAllTextAsync(secret, "root only");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var home = Directory.CreateTempSubdirectory("artemis-tool-home-").FullName;
        File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);

        var (exitCode, output, error) = await RunBinaryAsync(
            new() { ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["DOTNET_NOLOGO"] = "1" },
            ["/usr/bin/setpriv", "--reuid=199990", "--regid=199990", "--clear-groups"],
            "tool", "files.read_file", "--workspace", _workspace, "--arg", "path=secret.txt");

        Directory.Delete(home, recursive: true);
        Assert.True(exitCode == 0, error);
        Assert.Equal("""{"ok":false,"error":{"code":"permission_denied","message":"'secret.txt': permission denied"}}""" + "\n", output);
    }

    public void Dispose() => Directory.Delete(_workspace, recursive: true);
}
