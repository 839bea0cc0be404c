using System.Globalization;
using System.Text.RegularExpressions;
using Artemis.Agents.Cards;
using Artemis.Agents.Messaging;
using Artemis.Agents.Sandbox;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>What the arbiter knows of an attempt when it chooses.</summary>
public sealed record AttemptStanding(int Attempt, string Agent, string Status, bool Passed, int? Failures, bool EditsTests, int DiffLines, decimal CostUsd);

/// <summary>The arbiter's choice: the winning attempt (null: none passed) and why, for people.</summary>
public sealed record Verdict(int? Winner, string Reason);

/// <summary>One run of a card's acceptance tests on an attempt, in the sandbox.</summary>
public sealed record TestRun(bool Passed, int? Failures, int? ExitCode, string Output, string? KilledBy, long DurationMs);

/// <summary>
/// Runs the card's acceptance tests on every attempt in the sandbox, on a tree whose tests come from the pristine
/// source, runs a pass a second time (on a fresh tree) before trusting it, and picks the winner: tests pass, then fewer
/// failures, then an attempt that left the tests alone, then the smaller diff, then the lower cost.
/// </summary>
public sealed partial class Arbiter(SandboxRunner runner, AttemptWorkspaces workspaces, EventPublisher events, CardLeases leases)
{
    public const int MaxStoredOutput = 64 * 1024;

    /// <summary>Tests attempt <paramref name="attempt"/> and stores the result (fenced on the lease) before returning it.</summary>
    public async Task<TestRun> EvaluateAsync(Card card, CardLease lease, int attempt, string agent, AttemptChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(changes);
        var runs = 1;
        var run = await RunOnceAsync(card, attempt, changes, cancellationToken);
        if (run.Passed)
        {
            // A pass is trusted only when it holds twice: a flaky or order-dependent pass loses to a steady one.
            runs = 2;
            var again = await RunOnceAsync(card, attempt, changes, cancellationToken, again: true);
            if (!again.Passed)
            {
                run = again with { Output = "The tests passed once, then failed when run again: the pass is not trusted.\n" + again.Output };
            }
        }

        await leases.WriteFencedAsync(lease, async (connection, transaction, token) =>
        {
            await using var command = new NpgsqlCommand("""
                UPDATE attempts SET tests_passed = $3, tests_failed = $4, test_exit_code = $5, test_output = $6, test_runs = $7, updated_at = now()
                WHERE card_id = $1 AND attempt = $2
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = card.Id });
            command.Parameters.Add(new NpgsqlParameter { Value = attempt });
            command.Parameters.Add(new NpgsqlParameter { Value = run.Passed });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)run.Failures ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)run.ExitCode ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter { Value = run.Output });
            command.Parameters.Add(new NpgsqlParameter { Value = runs });
            await command.ExecuteNonQueryAsync(token);
        }, cancellationToken);

        await events.PublishAsync(card.Id, EventKinds.TestResult, new
        {
            Agent = agent,
            Attempt = attempt,
            run.Passed,
            run.Failures,
            run.ExitCode,
            run.KilledBy,
            Runs = runs,
            run.DurationMs,
            changes.EditsTests,
            RevertedTestPaths = changes.TestPaths,
        }, cancellationToken);
        return run;
    }

    /// <summary>Ranks the attempts and explains the choice by the first criterion that told the winner from the next best.</summary>
    public static Verdict Choose(IReadOnlyList<AttemptStanding> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        if (attempts.Count == 0)
        {
            return new Verdict(null, "no attempt was made");
        }

        var ranked = attempts
            .OrderByDescending(attempt => attempt.Passed)
            .ThenBy(attempt => attempt.Failures ?? int.MaxValue)
            .ThenBy(attempt => attempt.EditsTests)
            .ThenBy(attempt => attempt.DiffLines)
            .ThenBy(attempt => attempt.CostUsd)
            .ThenBy(attempt => attempt.Attempt)
            .ToList();
        var best = ranked[0];
        var others = string.Join("; ", ranked.Skip(1).Select(Describe));
        if (!best.Passed)
        {
            return new Verdict(null, $"no attempt passed the acceptance tests: {string.Join("; ", ranked.Select(Describe))}");
        }

        var why = ranked.Count == 1 ? "it was the only attempt" : "it won on " + Criterion(best, ranked[1]);
        return new Verdict(best.Attempt, $"attempt {best.Attempt} ({best.Agent}) passed the acceptance tests twice and {why}" +
            (others.Length > 0 ? $". Others: {others}" : "") + ".");
    }

    private static string Criterion(AttemptStanding best, AttemptStanding next) =>
        best.Passed != next.Passed ? "tests passing"
        : best.Failures != next.Failures ? "fewer failing tests"
        : best.EditsTests != next.EditsTests ? "leaving the tests alone"
        : best.DiffLines != next.DiffLines ? $"the smaller change ({best.DiffLines} lines against {next.DiffLines})"
        : best.CostUsd != next.CostUsd ? $"the lower cost (${best.CostUsd:0.######} against ${next.CostUsd:0.######})"
        : "being first (a tie on every criterion)";

    private static string Describe(AttemptStanding attempt) =>
        $"attempt {attempt.Attempt} ({attempt.Agent}, {attempt.Status.ToLowerInvariant()}) " +
        (attempt.Passed ? "passed" : attempt.Failures is { } failures ? $"failed {failures} test{(failures == 1 ? "" : "s")}" : "failed") +
        (attempt.EditsTests ? ", edited tests (reverted for the evaluation)" : "") +
        $", {attempt.DiffLines} lines changed";

    /// <summary>
    /// The number of failing tests in a test runner's output (pytest, unittest, jest, dotnet test, go test); 0 when the
    /// command succeeded; null when it failed and no runner's summary could be read.
    /// </summary>
    public static int? CountFailures(int? exitCode, string output)
    {
        if (exitCode == 0)
        {
            return 0;
        }

        ArgumentNullException.ThrowIfNull(output);
        if (PytestSummary().Match(output) is { Success: true } pytest)
        {
            return Number(pytest.Groups["failed"]) + Number(pytest.Groups["errors"]);
        }

        if (UnittestSummary().Match(output) is { Success: true } unittest)
        {
            return Number(unittest.Groups["failures"]) + Number(unittest.Groups["errors"]);
        }

        if (JestSummary().Match(output) is { Success: true } jest)
        {
            return Number(jest.Groups["failed"]);
        }

        if (DotnetSummary().Match(output) is { Success: true } dotnet)
        {
            return Number(dotnet.Groups["failed"]);
        }

        var go = GoFailure().Count(output);
        return go > 0 ? go : null;

        static int Number(Group group) => group.Success ? int.Parse(group.Value, CultureInfo.InvariantCulture) : 0;
    }

    private async Task<TestRun> RunOnceAsync(Card card, int attempt, AttemptChanges changes, CancellationToken cancellationToken, bool again = false)
    {
        var folder = await workspaces.PrepareEvaluationAsync(card.Id, attempt, changes, cancellationToken, again);
        try
        {
            var result = await runner.RunAsync(new SandboxJob(folder, ["/usr/bin/bash", "-c", card.TestCommand]), cancellationToken);
            var output = result.Stdout + (result.Stderr.Length > 0 ? "\n" + result.Stderr : "");
            if (result.KilledBy is { } limit)
            {
                output += $"\n[stopped by the sandbox: {limit}]";
            }

            if (output.Length > MaxStoredOutput)
            {
                output = "…" + output[^MaxStoredOutput..];
            }

            var passed = result.ExitCode == 0 && result.KilledBy is null;
            var failures = passed ? 0 : CountFailures(result.ExitCode, result.Stdout + "\n" + result.Stderr);
            return new TestRun(passed, failures, result.ExitCode, output, result.KilledBy, result.DurationMs);
        }
        finally
        {
            workspaces.DeleteEvaluation(card.Id, attempt);
        }
    }

    // "1 failed, 2 passed", "2 failed, 1 error", "3 errors"
    [GeneratedRegex(@"=+ (?:(?<failed>\d+) failed)?(?:, )?(?:\d+ passed)?(?:, )?(?:\d+ \w+, )*(?:(?<errors>\d+) errors?)?.* in [\d.]+s", RegexOptions.Multiline)]
    private static partial Regex PytestSummary();

    // "FAILED (failures=1)", "FAILED (failures=1, errors=2)", "FAILED (errors=1)"
    [GeneratedRegex(@"^FAILED \((?:failures=(?<failures>\d+))?(?:, )?(?:errors=(?<errors>\d+))?", RegexOptions.Multiline)]
    private static partial Regex UnittestSummary();

    [GeneratedRegex(@"^Tests:\s+(?<failed>\d+) failed", RegexOptions.Multiline)]
    private static partial Regex JestSummary();

    [GeneratedRegex(@"Failed:\s+(?<failed>\d+),\s+Passed:", RegexOptions.Multiline)]
    private static partial Regex DotnetSummary();

    [GeneratedRegex(@"^--- FAIL: ", RegexOptions.Multiline)]
    private static partial Regex GoFailure();
}
