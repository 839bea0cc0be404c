using System.Diagnostics;

namespace Artemis.Agents.Tests.Configuration;

/// <summary>The <c>check-config</c> verb as an operator runs it: the real service binary, its output and exit code.</summary>
public sealed class CheckConfigCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("artemis-check-config-").FullName;

    private static Task<(int ExitCode, string Output)> RunAsync(params string[] arguments) => RunAsync(new Dictionary<string, string>(), arguments);

    private static async Task<(int ExitCode, string Output)> RunAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Artemis.Agents.dll"));
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Nothing from the test host's environment may make the configuration valid or invalid by accident.
        foreach (var key in startInfo.Environment.Keys.Where(key => key.StartsWith("Artemis__", StringComparison.Ordinal)
                     || key.StartsWith("ConnectionStrings__", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        using var process = Process.Start(startInfo)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output + errors);
    }

    [Fact]
    public async Task Check_config_reports_every_bad_key_and_exits_2()
    {
        var file = Path.Combine(_directory, "bad.json");
        await File.WriteAllTextAsync(file, """{ "Artemis": { "Budget": { "DailyUsd": -5 }, "Sandbx": { "CpuSeconds": 1 } } }""");

        var (exitCode, output) = await RunAsync("check-config", "--config-file", file);

        Assert.Equal(2, exitCode);
        Assert.Contains("Artemis:Budget:DailyUsd: must be > 0, was -5", output, StringComparison.Ordinal);
        Assert.Contains("Artemis:Sandbx: unknown section", output, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:artemisdb: is required", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_names_the_file_and_line_of_malformed_json()
    {
        var file = Path.Combine(_directory, "malformed.json");
        await File.WriteAllTextAsync(file, "{\n  \"Artemis\": {\n    \"Budget\": { \"DailyUsd\": 5 \n  }}\n}}");

        var (exitCode, output) = await RunAsync("check-config", "--config-file", file);

        Assert.Equal(2, exitCode);
        Assert.Contains($"{file}: malformed JSON at line 5", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_of_a_missing_file_says_so()
    {
        var (exitCode, output) = await RunAsync("check-config", "--config-file", Path.Combine(_directory, "absent.json"));

        Assert.Equal(2, exitCode);
        Assert.Contains("absent.json: does not exist", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_passes_a_valid_file_against_reachable_servers()
    {
        // A model endpoint that answers /models, and no database or Redis to reach: only the connection errors remain.
        var file = Path.Combine(_directory, "partial.json");
        await File.WriteAllTextAsync(file, $$"""
            { "Artemis": { "Api": { "Key": "0123456789abcdef0123" }, "Workspace": { "Root": "{{_directory}}" },
                           "Model": { "Endpoint": "http://127.0.0.1:1/v1", "Name": "gpt-4o-mini" } } }
            """);

        var (exitCode, output) = await RunAsync("check-config", "--config-file", file);

        Assert.Equal(2, exitCode);
        Assert.Contains("Artemis:Model:Endpoint: the model endpoint http://127.0.0.1:1/v1 is unreachable", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Artemis:Api:Key", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Artemis:Workspace:Root", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Service_refuses_to_start_on_bad_configuration_with_the_report()
    {
        var (exitCode, output) = await RunAsync(new Dictionary<string, string>
        {
            ["Artemis__Budget__DailyUsd"] = "-5",
            ["Artemis__Sandbox__CpuSeconds"] = "0",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        });

        Assert.Equal(2, exitCode);
        Assert.Contains("The service refuses to start.", output, StringComparison.Ordinal);
        Assert.Contains("Artemis:Budget:DailyUsd: must be > 0, was -5", output, StringComparison.Ordinal);
        Assert.Contains("Artemis:Sandbox:CpuSeconds: must be > 0, was 0", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
