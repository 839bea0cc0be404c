using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Messaging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Artemis.Agents.Supervision;

/// <summary>
/// Takes one claimed card through its stages, from wherever it is: <c>Queued → Planning → Developing → Arbitrating →
/// Done | Failed</c>. Each stage's result is written, fenced on the lease and in the same transaction as the
/// <c>card.stage</c> event, before the next stage starts; so a replica that dies at any point leaves a card the next
/// claim resumes at its last written step: a plan is not asked for twice once stored, a finished attempt is not redone,
/// a tested attempt is not retested.
/// </summary>
public sealed class CardRunner(
    CardStore cards,
    NpgsqlDataSource dataSource,
    CardLeases leases,
    EventPublisher events,
    Planner planner,
    DeveloperAgent developer,
    Arbiter arbiter,
    AttemptWorkspaces workspaces,
    CostLedger ledger,
    IOptions<AgentsOptions> options,
    ILogger<CardRunner> logger)
{
    public async Task RunAsync(CardLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        while (true)
        {
            var card = await cards.GetAsync(lease.CardId, cancellationToken);
            SupervisionLog.Stage(logger, card.Id, card.Stage, lease.Owner, lease.Generation);
            switch (card.Stage)
            {
                case CardStage.Queued:
                    await MoveAsync(lease, CardStage.Queued, CardStage.Planning, $"claimed by {lease.Owner}", cancellationToken);
                    break;
                case CardStage.Planning:
                    var plan = await PlanAsync(card, cancellationToken);
                    await MoveAsync(lease, CardStage.Planning, CardStage.Developing, "planned", cancellationToken, plan: plan);
                    break;
                case CardStage.Developing:
                    await DevelopAsync(card, lease, cancellationToken);
                    break;
                case CardStage.Arbitrating:
                    await ArbitrateAsync(card, lease, cancellationToken);
                    break;
                default:
                    workspaces.Delete(card.Id);
                    return;
            }
        }
    }

    /// <summary>Ends the card as Failed when its work cannot go on (an error that retrying would only repeat).</summary>
    public async Task FailAsync(CardLease lease, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var card = await cards.GetAsync(lease.CardId, cancellationToken);
        if (!card.Stage.IsFinished())
        {
            await MoveAsync(lease, card.Stage, CardStage.Failed, reason, cancellationToken,
                lesson: $"'{card.Title}' failed in {card.Stage}: {reason}");
        }

        workspaces.Delete(card.Id);
    }

    /// <summary>
    /// After a card was cancelled under its running work: its unfinished attempts are marked stopped, its folders
    /// removed and the lease given back (the cancel itself was written by the API).
    /// </summary>
    public async Task CloseCancelledAsync(CardLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            if (await CardLeases.LockHeldAsync(connection, transaction, lease, cancellationToken) == CardStage.Cancelled)
            {
                await using var command = new NpgsqlCommand("""
                    UPDATE attempts SET status = 'Stopped', outcome = 'stopped: the card was cancelled', finished_at = now(), updated_at = now()
                    WHERE card_id = $1 AND status IN ('Pending', 'Running')
                    """, connection, transaction);
                command.Parameters.Add(new NpgsqlParameter { Value = lease.CardId });
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        // The folders go before the lease: a cancelled card seen without a lease has nothing left on disk.
        workspaces.Delete(lease.CardId);
        await leases.ReleaseAsync(lease, cancellationToken);
    }

    /// <summary>
    /// The plan, with the supervisor's own retries (<c>Artemis:Agents:AttemptRetries</c>) of a model call that still
    /// failed after Polly's HTTP retries; a budget refusal is not retried.
    /// </summary>
    private async Task<string> PlanAsync(Card card, CancellationToken cancellationToken)
    {
        for (var retry = 1; ; retry++)
        {
            try
            {
                return await planner.PlanAsync(card, cancellationToken);
            }
            catch (Exception exception) when (retry <= options.Value.AttemptRetries
                && exception is not (OperationCanceledException or BudgetExceededException or CardWorkStoppedException))
            {
                SupervisionLog.TurnRetried(logger, card.Id, Planner.Agent, retry, exception.Message);
                await events.PublishAsync(card.Id, EventKinds.Intervention,
                    new { Agent = Planner.Agent, Action = "retry", Reason = $"the planning call failed ({exception.Message}); retry {retry}" }, cancellationToken);
                await Task.Delay(TimeSpan.FromSeconds(retry), cancellationToken);
            }
        }
    }

    private async Task DevelopAsync(Card card, CardLease lease, CancellationToken cancellationToken)
    {
        try
        {
            await workspaces.SnapshotSourceAsync(card, cancellationToken);
        }
        catch (Exception exception) when (exception is WorkspaceTooLargeException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            await FailAsync(lease, $"the source could not be copied for the agents: {exception.Message}", cancellationToken);
            return;
        }

        var developers = options.Value.ParallelDevelopers;
        await leases.WriteFencedAsync(lease, async (connection, transaction, token) =>
        {
            // Made once: a resumed card keeps the attempts (and the number of them) it started with.
            await using var command = new NpgsqlCommand("""
                INSERT INTO attempts (card_id, attempt, agent)
                SELECT $1, n, 'developer-' || n FROM generate_series(1, $2) AS n
                WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE card_id = $1)
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = card.Id });
            command.Parameters.Add(new NpgsqlParameter { Value = developers });
            await command.ExecuteNonQueryAsync(token);
        }, cancellationToken);

        var attempts = (await cards.GetDetailsAsync(card.Id, cancellationToken)).Attempts;
        using var together = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var work = attempts
            .Where(attempt => attempt.Status is "Pending" or "Running")
            .Select(attempt => RunAttemptAsync(card, lease, attempt, attempts.Count, together))
            .ToList();
        await Task.WhenAll(work);

        var ended = (await cards.GetDetailsAsync(card.Id, cancellationToken)).Attempts;
        var summary = string.Join(", ", ended.GroupBy(attempt => attempt.Status).Select(group => $"{group.Count()} {group.Key.ToLowerInvariant()}"));
        await MoveAsync(lease, CardStage.Developing, CardStage.Arbitrating, $"{ended.Count} attempts ended ({summary})", cancellationToken);
    }

    private async Task RunAttemptAsync(Card card, CardLease lease, Attempt attempt, int of, CancellationTokenSource together)
    {
        var cancellationToken = together.Token;
        try
        {
            // Running when we find it: the replica that ran it died; it starts over from a fresh copy, counted as a retry.
            var resumed = attempt.Status == "Running";
            var retries = attempt.Retries + (resumed ? 1 : 0);
            await leases.WriteFencedAsync(lease, async (connection, transaction, token) =>
            {
                await using var command = new NpgsqlCommand("""
                    UPDATE attempts SET status = 'Running', started_at = now(), retries = $3, outcome = NULL, error = NULL, updated_at = now()
                    WHERE card_id = $1 AND attempt = $2
                    """, connection, transaction);
                command.Parameters.Add(new NpgsqlParameter { Value = card.Id });
                command.Parameters.Add(new NpgsqlParameter { Value = attempt.Number });
                command.Parameters.Add(new NpgsqlParameter { Value = retries });
                await command.ExecuteNonQueryAsync(token);
            }, cancellationToken);
            if (resumed)
            {
                await events.PublishAsync(card.Id, EventKinds.Intervention, new
                {
                    attempt.Agent,
                    Attempt = attempt.Number,
                    Action = "restart",
                    Reason = "the attempt was running when its replica stopped; it starts over from a fresh copy of the source",
                }, cancellationToken);
            }

            var folder = await workspaces.PrepareAttemptAsync(card.Id, attempt.Number, cancellationToken);
            var plan = card.Plan ?? (await cards.GetAsync(card.Id, cancellationToken)).Plan ?? "";
            var assignment = new AttemptAssignment(card, plan, attempt.Number, of, attempt.Agent, folder, lease, retries);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var limit = TimeSpan.FromSeconds(options.Value.AttemptTimeoutSeconds);
            timeout.CancelAfter(limit);
            AttemptOutcome outcome;
            try
            {
                outcome = await developer.RunAsync(assignment, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                var why = $"stopped by the supervisor: no result after {limit.TotalSeconds:0} s (Artemis:Agents:AttemptTimeoutSeconds)";
                await events.PublishAsync(card.Id, EventKinds.Intervention,
                    new { attempt.Agent, Attempt = attempt.Number, Action = "stop", Reason = why }, cancellationToken);
                var progress = (await cards.GetDetailsAsync(card.Id, cancellationToken)).Attempts.Single(row => row.Number == attempt.Number);
                outcome = new AttemptOutcome("Stopped", why, null, progress.Turns, progress.Retries, progress.Interventions + 1);
            }

            var changes = await workspaces.ChangesAsync(card.Id, attempt.Number, card.TestCommand, cancellationToken);
            await leases.WriteFencedAsync(lease, async (connection, transaction, token) =>
            {
                await using var command = new NpgsqlCommand("""
                    UPDATE attempts SET status = $3, outcome = $4, error = $5, turns = $6, retries = $7, interventions = $8,
                                        diff = $9, diff_lines = $10, edits_tests = $11, finished_at = now(), updated_at = now()
                    WHERE card_id = $1 AND attempt = $2
                    """, connection, transaction);
                command.Parameters.Add(new NpgsqlParameter { Value = card.Id });
                command.Parameters.Add(new NpgsqlParameter { Value = attempt.Number });
                command.Parameters.Add(new NpgsqlParameter { Value = outcome.Status });
                command.Parameters.Add(new NpgsqlParameter { Value = outcome.Outcome });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)outcome.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter { Value = outcome.Turns });
                command.Parameters.Add(new NpgsqlParameter { Value = outcome.Retries });
                command.Parameters.Add(new NpgsqlParameter { Value = outcome.Interventions });
                command.Parameters.Add(new NpgsqlParameter { Value = changes.Diff });
                command.Parameters.Add(new NpgsqlParameter { Value = changes.DiffLines });
                command.Parameters.Add(new NpgsqlParameter { Value = changes.EditsTests });
                await command.ExecuteNonQueryAsync(token);
            }, cancellationToken);
            SupervisionLog.AttemptEnded(logger, card.Id, attempt.Number, attempt.Agent, outcome.Status, outcome.Turns, changes.DiffLines);
        }
        catch
        {
            // One attempt that cannot go on (lease lost, card cancelled, service stopping) stops its siblings too.
            await together.CancelAsync();
            throw;
        }
    }

    private async Task ArbitrateAsync(Card card, CardLease lease, CancellationToken cancellationToken)
    {
        // The ledger is fed through a queue: drain it so that every call of the attempts is in cost_entries.
        await ledger.DrainAsync(cancellationToken);
        await leases.WriteFencedAsync(lease, async (connection, transaction, token) =>
        {
            await using var command = new NpgsqlCommand("""
                UPDATE attempts SET cost_usd = coalesce((SELECT sum(cost_usd) FROM cost_entries
                                                         WHERE cost_entries.card_id = attempts.card_id AND cost_entries.agent = attempts.agent), 0)
                WHERE card_id = $1
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = card.Id });
            await command.ExecuteNonQueryAsync(token);
        }, cancellationToken);

        var attempts = (await cards.GetDetailsAsync(card.Id, cancellationToken)).Attempts;
        // Every attempt not yet tested is tested at once, each in its own tree, as its own sandbox uid; then only the
        // pass that would win is run again (a resumed card keeps what was stored: a pass stored once is confirmed).
        var changesOf = new System.Collections.Concurrent.ConcurrentDictionary<int, AttemptChanges>();
        var standings = await Task.WhenAll(attempts.Select(async attempt =>
        {
            var passed = attempt.TestsPassed;
            var failures = attempt.TestsFailed;
            var editsTests = attempt.EditsTests;
            var runs = attempt.TestRuns;
            if (passed is null && Directory.Exists(workspaces.AttemptPath(card.Id, attempt.Number)))
            {
                var changes = changesOf[attempt.Number] = await workspaces.ChangesAsync(card.Id, attempt.Number, card.TestCommand, cancellationToken, record: false);
                var run = await arbiter.EvaluateAsync(card, lease, attempt.Number, attempt.Agent, changes, cancellationToken);
                (passed, failures, editsTests, runs) = (run.Passed, run.Failures, changes.EditsTests, 1);
            }

            return new AttemptStanding(attempt.Number, attempt.Agent, attempt.Status, passed == true, failures, editsTests, attempt.DiffLines ?? 0, attempt.CostUsd,
                Confirmed: passed != true || runs >= 2);
        }));

        var verdict = await Arbiter.ChooseConfirmedAsync(standings, async standing =>
        {
            if (!changesOf.TryGetValue(standing.Attempt, out var changes))
            {
                if (!Directory.Exists(workspaces.AttemptPath(card.Id, standing.Attempt)))
                {
                    return new TestRun(false, null, null, "The attempt's workspace is gone: its single pass cannot be confirmed.", null, 0);
                }

                changes = await workspaces.ChangesAsync(card.Id, standing.Attempt, card.TestCommand, cancellationToken, record: false);
            }

            return await arbiter.ConfirmAsync(card, lease, standing.Attempt, standing.Agent, changes, cancellationToken);
        });
        var winner = verdict.Winner is { } number ? attempts.Single(attempt => attempt.Number == number) : null;
        var changed = winner?.Diff is { } diff ? ChangedFiles(diff) : [];
        var lesson = winner is null
            ? $"'{card.Title}' (tests: {card.TestCommand}) failed: {verdict.Reason}"
            : $"'{card.Title}' (tests: {card.TestCommand}) was done by {winner.Agent} in {winner.Turns} turns, changing {string.Join(", ", changed)}" +
              $" ({winner.DiffLines} lines). {(standings.Any(standing => standing.EditsTests) ? "An attempt edited tests; they were reverted and it lost. " : "")}" +
              $"Plan that worked: {Shorten(card.Plan ?? "", 400)}";
        await MoveAsync(lease, CardStage.Arbitrating, winner is null ? CardStage.Failed : CardStage.Done, verdict.Reason, cancellationToken,
            winner: verdict.Winner, lesson: lesson);
    }

    private static List<string> ChangedFiles(string diff) =>
        diff.Split('\n').Where(line => line.StartsWith("diff --git a/", StringComparison.Ordinal))
            .Select(line => line["diff --git a/".Length..].Split(" b/", 2)[0]).Distinct().ToList();

    private static string Shorten(string text, int length) =>
        (text.Length <= length ? text : text[..length] + "…").ReplaceLineEndings(" ");

    /// <summary>
    /// Moves the card from <paramref name="from"/> to <paramref name="to"/> with what the stage produced (plan, winner,
    /// lesson), in one transaction with its <c>card.stage</c> event, while the lease is ours and the card still in
    /// <paramref name="from"/>. A finished card's lease is cleared in the same write.
    /// </summary>
    private async Task MoveAsync(CardLease lease, CardStage from, CardStage to, string reason, CancellationToken cancellationToken,
        string? plan = null, int? winner = null, string? lesson = null)
    {
        await events.PublishAsync(lease.CardId, EventKinds.CardStage, async (connection, transaction, token) =>
        {
            var stage = await CardLeases.LockHeldAsync(connection, transaction, lease, token);
            if (stage != from)
            {
                throw new CardWorkStoppedException(lease.CardId, $"the card is {stage}, not {from}");
            }

            var finished = to.IsFinished();
            await using (var command = new NpgsqlCommand("""
                UPDATE cards SET stage = $2, stage_changed_at = now(), updated_at = now(),
                                 plan = coalesce($3, plan), winner_attempt = $4,
                                 result_reason = CASE WHEN $5 THEN $6 ELSE result_reason END,
                                 finished_at = CASE WHEN $5 THEN now() END,
                                 lease_owner = CASE WHEN $5 THEN NULL ELSE lease_owner END,
                                 lease_expires_at = CASE WHEN $5 THEN NULL ELSE lease_expires_at END
                WHERE id = $1
                """, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = lease.CardId });
                command.Parameters.Add(new NpgsqlParameter { Value = to.ToString() });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)plan ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)winner ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
                command.Parameters.Add(new NpgsqlParameter { Value = finished });
                command.Parameters.Add(new NpgsqlParameter { Value = reason });
                await command.ExecuteNonQueryAsync(token);
            }

            if (lesson is not null && to is CardStage.Done or CardStage.Failed)
            {
                await Lessons.StoreAsync(connection, transaction, lease.CardId, to.ToString(), lesson, token);
            }

            return new { From = from.ToString(), To = to.ToString(), Reason = reason, Winner = winner };
        }, cancellationToken);
        SupervisionLog.Moved(logger, lease.CardId, from, to, reason);
    }
}
