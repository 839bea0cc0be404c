using System.Globalization;
using System.Text.RegularExpressions;
using Artemis.Agents.Cards;
using Artemis.Agents.Messaging;
using Artemis.Agents.Sandbox;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>
/// What the arbiter knows of an attempt when it chooses. <paramref name="Confirmed"/>: its result is final — it failed,
/// or it passed twice; a single pass is confirmed by a second run only if it would win.
/// </summary>
public sealed record AttemptStanding(
    int Attempt, string Agent, string Status, bool Passed, int? Failures, bool EditsTests, int DiffLines, decimal CostUsd, bool Confirmed = true);

/// <summary>The arbiter's choice: the winning attempt (null: none passed) and why, for people.</summary>
public sealed record Verdict(int? Winner, string Reason);

/// <summary>One run of a card's acceptance tests on an attempt, in the sandbox.</summary>
public sealed record TestRun(bool Passed, int? Failures, int? ExitCode, string Output, string? KilledBy, long DurationMs);

/// <summary>
/// Runs the card's acceptance tests on every attempt in the sandbox, on a tree whose tests come from the pristine
/// source, and picks the winner: tests pass, then fewer failures, then an attempt that left the tests alone, then the
/// smaller diff, then the lower cost. A pass is trusted only when it holds twice: the best-ranked pass is run a second
/// time (on a fresh tree) before it wins, and one that fails then loses to the next best, which is run again in turn.
/// </summary>
public sealed partial class Arbiter(SandboxRunner runner, AttemptWorkspaces workspaces, EventPublisher events, CardLeases leases)
{
    public const int MaxStoredOutput = 64 * 1024;

    /// <summary>Tests attempt <paramref name="attempt"/> once and stores the result (fenced on the lease) before returning it.</summary>
    public async Task<TestRun> EvaluateAsync(Card card, CardLease lease, int attempt, string agent, AttemptChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(changes);
        var run = await RunOnceAsync(card, attempt, changes, cancellationToken);
        await RecordAsync(card, lease, attempt, agent, changes, run, runs: 1, cancellationToken);
        return run;
    }

    /// <summary>
    /// Runs the tests of an attempt that passed once a second time, on a fresh tree, and stores the result: a pass that
    /// does not hold (flaky, order-dependent) is stored as a failure.
    /// </summary>
    public async Task<TestRun> ConfirmAsync(Card card, CardLease lease, int attempt, string agent, AttemptChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(changes);
        var run = await RunOnceAsync(card, attempt, changes, cancellationToken, again: true);
        if (!run.Passed)
        {
            run = run with { Output = "The tests passed once, then failed when run again: the pass is not trusted.\n" + run.Output };
        }

        await RecordAsync(card, lease, attempt, agent, changes, run, runs: 2, cancellationToken);
        return run;
    }

    private async Task RecordAsync(Card card, CardLease lease, int attempt, string agent, AttemptChanges changes, TestRun run, int runs, CancellationToken cancellationToken)
    {
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
    }

    /// <summary>
    /// Chooses like <see cref="Choose"/>, confirming first: while the best-ranked attempt passed only once,
    /// <paramref name="confirm"/> runs it again; a pass that holds wins, one that does not becomes a failure and the
    /// ranking is made again. Only the attempt that would win is ever run a second time.
    /// </summary>
    public static async Task<Verdict> ChooseConfirmedAsync(IReadOnlyList<AttemptStanding> attempts, Func<AttemptStanding, Task<TestRun>> confirm)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        ArgumentNullException.ThrowIfNull(confirm);
        var standings = attempts.ToList();
        while (Rank(standings).FirstOrDefault() is { Passed: true, Confirmed: false } best)
        {
            var again = await confirm(best);
            standings[standings.IndexOf(best)] = best with { Passed = again.Passed, Failures = again.Failures, Confirmed = true };
        }

        return Choose(standings);
    }

    /// <summary>Ranks the attempts and explains the choice by the first criterion that told the winner from the next best.</summary>
    public static Verdict Choose(IReadOnlyList<AttemptStanding> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        if (attempts.Count == 0)
        {
            return new Verdict(null, "no attempt was made");
        }

        var ranked = Rank(attempts);
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

    private static List<AttemptStanding> Rank(IEnumerable<AttemptStanding> attempts) =>
        attempts
            .OrderByDescending(attempt => attempt.Passed)
            .ThenBy(attempt => attempt.Failures ?? int.MaxValue)
            .ThenBy(attempt => attempt.EditsTests)
            .ThenBy(attempt => attempt.DiffLines)
            .ThenBy(attempt => attempt.CostUsd)
            .ThenBy(attempt => attempt.Attempt)
            .ToList();

    private static string Criterion(AttemptStanding best, AttemptStanding next) =>
        best.Passed != next.Passed ? "tests passing"
        : best.Failures != next.Failures ? "fewer failing tests"
        : best.EditsTests != next.EditsTests ? "leaving the tests alone"
        : best.DiffLines != next.DiffLines ? $"the smaller change ({best.DiffLines} lines against {next.DiffLines})"
        : best.CostUsd != next.CostUsd ? $"the lower cost (${best.CostUsd:0.######} against ${next.CostUsd:0.######})"
        : "being first (a tie on every criterion)";

    private static string Describe(AttemptStanding attempt) =>
        $"attempt {attempt.Attempt} ({attempt.Agent}, {attempt.Status.ToLowerInvariant()}) " +
        (attempt.Passed ? attempt.Confirmed ? "passed" : "passed once (not run again: it would not have won)" : attempt.Failures is { } failures ? $"failed {failures} test{(failures == 1 ? "" : "s")}" : "failed") +
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
