using Artemis.Agents.Supervision;

namespace Artemis.Agents.Tests.Supervision;

/// <summary>The arbiter's ranking, its reading of test runners' summaries, and what counts as a test file.</summary>
public sealed class ArbiterTests
{
    private static AttemptStanding Standing(int attempt, bool passed, int? failures, bool editsTests = false, int lines = 10, decimal cost = 0.01m) =>
        new(attempt, $"developer-{attempt}", "Finished", passed, failures, editsTests, lines, cost);

    [Fact]
    public void A_pass_beats_any_number_of_failures_and_the_reason_says_so()
    {
        var verdict = Arbiter.Choose([Standing(1, false, 1, lines: 1), Standing(2, true, 0, lines: 300)]);

        Assert.Equal(2, verdict.Winner);
        Assert.Contains("won on tests passing", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("attempt 1 (developer-1, finished) failed 1 test", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Among_passes_leaving_tests_alone_then_the_smaller_diff_then_the_lower_cost_then_the_first_wins()
    {
        Assert.Equal(2, Arbiter.Choose([Standing(1, true, 0, editsTests: true, lines: 1), Standing(2, true, 0, lines: 50)]).Winner);
        var smaller = Arbiter.Choose([Standing(1, true, 0, lines: 40), Standing(2, true, 0, lines: 12)]);
        Assert.Equal(2, smaller.Winner);
        Assert.Contains("the smaller change (12 lines against 40)", smaller.Reason, StringComparison.Ordinal);
        var cheaper = Arbiter.Choose([Standing(1, true, 0, cost: 0.02m), Standing(2, true, 0, cost: 0.01m)]);
        Assert.Equal(2, cheaper.Winner);
        Assert.Contains("the lower cost", cheaper.Reason, StringComparison.Ordinal);
        var tie = Arbiter.Choose([Standing(2, true, 0), Standing(1, true, 0)]);
        Assert.Equal(1, tie.Winner);
        Assert.Contains("a tie on every criterion", tie.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_passing_means_no_winner_and_a_reason_listing_every_attempt_best_first()
    {
        var verdict = Arbiter.Choose([Standing(1, false, null), Standing(2, false, 3), Standing(3, false, 1)]);

        Assert.Null(verdict.Winner);
        Assert.StartsWith("no attempt passed the acceptance tests: attempt 3", verdict.Reason, StringComparison.Ordinal);
        Assert.EndsWith("attempt 1 (developer-1, finished) failed, 10 lines changed", verdict.Reason, StringComparison.Ordinal);
        Assert.Null(Arbiter.Choose([]).Winner);
    }

    [Fact]
    public async Task Only_the_pass_that_would_win_is_run_again_and_one_that_does_not_hold_loses_to_the_next()
    {
        // Attempts 2 and 3 passed once (2 the smaller change), 1 failed: 2 is run again and fails (flaky), so 3 is run
        // again and holds. 1 is never run again; neither is any attempt once a pass has held.
        var confirmed = new List<int>();
        var verdict = await Arbiter.ChooseConfirmedAsync(
            [Standing(1, false, 2, lines: 1), Standing(2, true, 0, lines: 5) with { Confirmed = false },
             Standing(3, true, 0, lines: 20) with { Confirmed = false }, Standing(4, true, 0, lines: 30) with { Confirmed = false }],
            standing =>
            {
                confirmed.Add(standing.Attempt);
                return Task.FromResult(new TestRun(standing.Attempt != 2, standing.Attempt == 2 ? 1 : 0, standing.Attempt == 2 ? 1 : 0, "", null, 5));
            });

        Assert.Equal([2, 3], confirmed);
        Assert.Equal(3, verdict.Winner);
        Assert.Contains("attempt 3 (developer-3) passed the acceptance tests twice and it won on the smaller change (20 lines against 30)", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("attempt 4 (developer-4, finished) passed once (not run again: it would not have won)", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("attempt 2 (developer-2, finished) failed 1 test", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pass_already_run_twice_is_not_run_again_and_no_pass_means_no_second_run()
    {
        var runs = 0;
        Task<TestRun> Count(AttemptStanding standing)
        {
            runs++;
            return Task.FromResult(new TestRun(true, 0, 0, "", null, 5));
        }

        Assert.Equal(1, (await Arbiter.ChooseConfirmedAsync([Standing(1, true, 0), Standing(2, true, 0, lines: 50) with { Confirmed = false }], Count)).Winner);
        Assert.Null((await Arbiter.ChooseConfirmedAsync([Standing(1, false, 1), Standing(2, false, null)], Count)).Winner);
        Assert.Equal(0, runs);
    }

    [Theory]
    [InlineData(0, "anything", 0)]
    [InlineData(1, "===== 2 failed, 5 passed in 0.12s =====", 2)]
    [InlineData(1, "===== 1 failed, 3 passed, 2 errors in 1.02s =====", 3)]
    [InlineData(1, "Ran 4 tests in 0.001s\n\nFAILED (failures=2)", 2)]
    [InlineData(1, "Ran 4 tests in 0.001s\n\nFAILED (failures=1, errors=2)", 3)]
    [InlineData(1, "Ran 1 test in 0.001s\n\nFAILED (errors=1)", 1)]
    [InlineData(1, "Tests:       3 failed, 9 passed, 12 total", 3)]
    [InlineData(1, "Failed!  - Failed:     4, Passed:    10, Skipped:     0", 4)]
    [InlineData(1, "--- FAIL: TestA (0.00s)\n--- FAIL: TestB (0.00s)\nFAIL", 2)]
    [InlineData(2, "make: *** No rule to make target 'test'.  Stop.", null)]
    [InlineData(137, "", null)]
    public void Failures_are_read_from_the_runner_s_summary_or_unknown(int exitCode, string output, int? expected) =>
        Assert.Equal(expected, Arbiter.CountFailures(exitCode, output));

    [Theory]
    [InlineData("test_calc.py", true)]
    [InlineData("calc_test.py", true)]
    [InlineData("tests/helpers.py", true)]
    [InlineData("src/__tests__/app.js", true)]
    [InlineData("app.spec.ts", true)]
    [InlineData("app.test.js", true)]
    [InlineData("conftest.py", true)]
    [InlineData("sub/conftest.py", true)]
    [InlineData("pytest.ini", true)]
    [InlineData("pyproject.toml", true)]
    [InlineData("Makefile", true)]
    [InlineData(".github/workflows/ci.yml", true)]
    [InlineData("Artemis.Agents.Tests/CardTests.cs", true)]
    [InlineData("src/CalculatorTests.cs", true)]
    [InlineData("jest.config.js", true)]
    [InlineData("run.sh", true)] // named by the test command
    [InlineData("calc.py", false)]
    [InlineData("src/latest.py", false)]
    [InlineData("contest.py", false)]
    [InlineData("docs/testing-guide.md", false)]
    [InlineData("attestation.py", false)]
    public void Test_files_and_test_infrastructure_are_recognised(string path, bool expected) =>
        Assert.Equal(expected, AttemptWorkspaces.IsTestPath(path, new HashSet<string> { "run.sh" }));

    [Fact]
    public void The_files_a_test_command_names_are_those_of_the_source()
    {
        var source = Directory.CreateTempSubdirectory("artemis-command-files-");
        try
        {
            File.WriteAllText(Path.Combine(source.FullName, "run_tests.sh"), "");
            Directory.CreateDirectory(Path.Combine(source.FullName, "ci"));
            File.WriteAllText(Path.Combine(source.FullName, "ci", "check.py"), "");

            var files = AttemptWorkspaces.CommandFiles("bash ./run_tests.sh && python3 'ci/check.py' --strict; cat ../../etc/passwd /etc/hosts missing.sh", source.FullName);

            Assert.Equal(["ci/check.py", "run_tests.sh"], files.Order(StringComparer.Ordinal));
        }
        finally
        {
            source.Delete(recursive: true);
        }
    }
}
