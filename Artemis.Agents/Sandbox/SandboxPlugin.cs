using System.ComponentModel;
using System.Text.Json.Serialization;
using Artemis.Agents.Files;
using Microsoft.SemanticKernel;

namespace Artemis.Agents.Sandbox;

/// <summary>
/// The <c>sandbox</c> plugin of one agent: runs code, commands and the card's tests in that agent's workspace, isolated
/// and bounded (ADR 007). A job that ran is a result even when its program failed; a job stopped by a limit is
/// <c>ok:false</c> with the limit's code and still carries what the program printed.
/// </summary>
public sealed class SandboxPlugin(SandboxRunner runner, string workspaceRoot, string? testCommand = null)
{
    public const string PluginName = "sandbox";

    [KernelFunction("run_code"), Description("Run a program in the workspace (mounted at /workspace, no network, bounded CPU, memory, time and output). Returns {ok, exitCode, stdout, stderr, timedOut, killedBy, durationMs, truncated, isolated}.")]
    public Task<string> RunCodeAsync(
        [Description("The language: python or bash")] string language,
        [Description("The program's source code")] string code,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        string[]? command = language?.Trim().ToUpperInvariant() switch
        {
            "PYTHON" or "PYTHON3" or "PY" => ["/usr/bin/python3", SandboxJob.FilePlaceholder],
            "BASH" or "SH" or "SHELL" => ["/usr/bin/bash", SandboxJob.FilePlaceholder],
            _ => null,
        };
        if (command is null)
        {
            return Task.FromResult(ToolResult.Error(ToolErrorCodes.UnsupportedLanguage, $"'{language}' is not supported: use python or bash"));
        }

        var fileName = command[0].EndsWith("python3", StringComparison.Ordinal) ? "main.py" : "main.sh";
        return RunAsync(new SandboxJob(workspaceRoot, command, fileName, code, code), cancellationToken);
    }

    [KernelFunction("run_command"), Description("Run a shell command (bash -c) in the workspace, isolated like run_code. Returns the same result as run_code.")]
    public Task<string> RunCommandAsync(
        [Description("The command line, as for bash -c")] string command,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return RunAsync(new SandboxJob(workspaceRoot, ["/usr/bin/bash", "-c", command], ScannedCode: command), cancellationToken);
    }

    [KernelFunction("run_tests"), Description("Run the card's acceptance test command in the workspace. Returns the same result as run_code.")]
    public Task<string> RunTestsAsync(CancellationToken cancellationToken = default) =>
        testCommand is null
            ? Task.FromResult(ToolResult.Error(ToolErrorCodes.NoTestCommand, "this card has no test command; run the tests with run_command"))
            : RunAsync(new SandboxJob(workspaceRoot, ["/usr/bin/bash", "-c", testCommand]), cancellationToken);

    private async Task<string> RunAsync(SandboxJob job, CancellationToken cancellationToken)
    {
        try
        {
            return ToolResult.Serialize(RunResult.From(await runner.RunAsync(job, cancellationToken)));
        }
        catch (ToolFailureException failure)
        {
            return failure.ToJson();
        }
    }

    private sealed record RunResult(
        bool Ok,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ToolError? Error,
        int? ExitCode,
        string Stdout,
        string Stderr,
        bool TimedOut,
        string? KilledBy,
        long DurationMs,
        bool Truncated,
        bool Isolated,
        IReadOnlyList<string> Warnings)
    {
        public static RunResult From(SandboxResult result)
        {
            var error = result.KilledBy switch
            {
                null => null,
                "timeout" => new ToolError(ToolErrorCodes.Timeout, "the job ran out of time and was killed with everything it started"),
                var limit => new ToolError(ToolErrorCodes.LimitExceeded, $"the job exceeded its {limit.Replace('_', ' ')} limit and was stopped"),
            };
            return new RunResult(error is null, error, result.ExitCode, result.Stdout, result.Stderr, result.TimedOut, result.KilledBy,
                result.DurationMs, result.Truncated, result.Isolated, result.Warnings);
        }
    }
}
