using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Sandbox;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using FunctionCallContent = Microsoft.Extensions.AI.FunctionCallContent;
using FunctionResultContent = Microsoft.Extensions.AI.FunctionResultContent;
using FunctionInvocationContext = Microsoft.SemanticKernel.FunctionInvocationContext;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>One developer agent's work on a card: who it is, what it works from and where.</summary>
public sealed record AttemptAssignment(Card Card, string Plan, int Attempt, int Of, string Agent, string Workspace, CardLease Lease, int PreviousRetries);

/// <summary>How an attempt ended: <see cref="Status"/> is Finished, Stopped or Failed (as stored in <c>attempts.status</c>).</summary>
public sealed record AttemptOutcome(string Status, string Outcome, string? Error, int Turns, int Retries, int Interventions);

/// <summary>
/// A developer agent: a Semantic Kernel with the <c>files</c> and <c>sandbox</c> plugins rooted at its own copy of the
/// workspace, driven turn by turn through the one priced chat pipeline. The loop is ours rather than automatic
/// function calling (ADR 009): the tools are offered as declarations, each model call is one turn that is persisted
/// before the next, and between turns the supervisor can count, nudge or stop the agent.
/// </summary>
public sealed class DeveloperAgent(
    IChatClient chat,
    WorkspaceFilesFactory files,
    SandboxPluginFactory sandbox,
    EventPublisher events,
    CardLeases leases,
    IOptions<AgentsOptions> options,
    ILogger<DeveloperAgent> logger)
{
    public const string Stage = "developing";

    /// <summary>The same call with the same result this many times in a row: the supervisor nudges the agent.</summary>
    public const int RepeatsBeforeNudge = 3;

    /// <summary>…and this many: the supervisor stops it.</summary>
    public const int RepeatsBeforeStop = 5;

    private const int MaxEventText = 2000;

    public async Task<AttemptOutcome> RunAsync(AttemptAssignment assignment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        var card = assignment.Card;
        var kernel = new Kernel();
        kernel.Plugins.AddFromObject(files.Create(assignment.Workspace), WorkspaceFiles.PluginName);
        kernel.Plugins.AddFromObject(sandbox.Create(assignment.Workspace, card.TestCommand), SandboxPlugin.PluginName);
        kernel.FunctionInvocationFilters.Add(new LeaseCheck(leases, assignment.Lease));
        kernel.FunctionInvocationFilters.Add(new ToolCallEvents(events, card.Id, assignment.Agent, assignment.Attempt));
        // Offered to the model as declarations only ("files_read_file"…), so each call comes back to this loop; run
        // through the kernel, so its filters see every call.
        var tools = kernel.Plugins.SelectMany(plugin => plugin.Select(function => (Name: $"{plugin.Name}_{function.Name}", Function: function)))
            .ToDictionary(tool => tool.Name, tool => tool.Function, StringComparer.Ordinal);
        var declarations = tools.Select(AITool (tool) => AIFunctionFactory.CreateDeclaration(tool.Key, tool.Value.Description, tool.Value.JsonSchema)).ToList();

        List<ChatMessage> conversation =
        [
            new(ChatRole.System, SystemPrompt(assignment)),
            new(ChatRole.User, TaskPrompt(assignment)),
        ];

        var turns = 0;
        var retries = assignment.PreviousRetries;
        var interventions = 0;
        var limits = options.Value;
        string? lastCall = null;
        var repeats = 0;
        while (true)
        {
            if (turns >= limits.MaxTurns)
            {
                return await StopAsync($"turn limit reached ({limits.MaxTurns} model calls, Artemis:Agents:MaxTurns)", interventions + 1);
            }

            ChatResponse response;
            try
            {
                var chatOptions = new CostAttribution(card.Id, Stage, assignment.Agent) { CardBudgetUsd = card.BudgetUsd }
                    .ApplyTo(new ChatOptions { Tools = declarations });
                response = await chat.GetResponseAsync(conversation, chatOptions, cancellationToken);
            }
            catch (BudgetExceededException exception)
            {
                return new AttemptOutcome("Stopped", "stopped: " + exception.Message, null, turns, retries, interventions);
            }
            catch (Exception exception) when (exception is not OperationCanceledException and not CardWorkStoppedException)
            {
                // Polly has already retried what HTTP can retry; this is the supervisor's retry of the turn.
                if (++retries > assignment.PreviousRetries + limits.AttemptRetries)
                {
                    return new AttemptOutcome("Failed", $"failed: the model call failed {retries - assignment.PreviousRetries} times",
                        exception.Message, turns, retries, interventions);
                }

                SupervisionLog.TurnRetried(logger, card.Id, assignment.Agent, retries, exception.Message);
                await SaveProgressAsync(assignment, turns, retries, interventions, cancellationToken);
                await Task.Delay(TimeSpan.FromSeconds(retries - assignment.PreviousRetries), cancellationToken);
                continue;
            }

            turns++;
            conversation.AddRange(response.Messages);
            await SaveProgressAsync(assignment, turns, retries, interventions, cancellationToken);
            if (!string.IsNullOrWhiteSpace(response.Text))
            {
                await events.PublishAsync(card.Id, EventKinds.AgentMessage,
                    new { assignment.Agent, assignment.Attempt, Turn = turns, Text = Cut(response.Text) }, cancellationToken);
            }

            var calls = response.Messages.SelectMany(message => message.Contents).OfType<FunctionCallContent>().ToList();
            if (calls.Count == 0)
            {
                var summary = string.IsNullOrWhiteSpace(response.Text) ? "finished without a summary" : Cut(response.Text.Trim());
                return new AttemptOutcome("Finished", summary, null, turns, retries, interventions);
            }

            var results = new List<AIContent>(calls.Count);
            var signature = new StringBuilder();
            foreach (var call in calls)
            {
                var result = await InvokeAsync(kernel, tools, call, cancellationToken);
                results.Add(new FunctionResultContent(call.CallId, result));
                signature.Append(call.Name).Append(JsonSerializer.Serialize(call.Arguments)).Append(result).Append('\n');
            }

            conversation.Add(new ChatMessage(ChatRole.Tool, results));

            // Watching for an agent going round in circles: the same calls with the same results, turn after turn.
            var current = signature.ToString();
            repeats = current == lastCall ? repeats + 1 : 1;
            lastCall = current;
            if (repeats >= RepeatsBeforeStop)
            {
                return await StopAsync($"stopped by the supervisor: the same call ({calls[0].Name}) {repeats} times in a row with the same result", interventions + 1);
            }

            if (repeats == RepeatsBeforeNudge)
            {
                interventions++;
                var nudge = $"Supervisor: you have made the same call ({calls[0].Name}) {repeats} times in a row and got the same result. " +
                            "Change your approach, or if the work is done, stop calling tools and summarize what you changed.";
                conversation.Add(new ChatMessage(ChatRole.User, nudge));
                await events.PublishAsync(card.Id, EventKinds.Intervention,
                    new { assignment.Agent, assignment.Attempt, Turn = turns, Action = "nudge", Reason = nudge }, cancellationToken);
            }
        }

        async Task<AttemptOutcome> StopAsync(string why, int count)
        {
            await events.PublishAsync(card.Id, EventKinds.Intervention,
                new { assignment.Agent, assignment.Attempt, Turn = turns, Action = "stop", Reason = why }, cancellationToken);
            return new AttemptOutcome("Stopped", why, null, turns, retries, count);
        }
    }

    private static async Task<string> InvokeAsync(Kernel kernel, Dictionary<string, KernelFunction> tools, FunctionCallContent call, CancellationToken cancellationToken)
    {
        if (!tools.TryGetValue(call.Name, out var tool))
        {
            return ToolResult.Error("unknown_tool", $"there is no tool '{call.Name}'; the tools are: {string.Join(", ", tools.Keys.Order(StringComparer.Ordinal))}");
        }

        if (call.Exception is { } malformed)
        {
            return ToolResult.Error("invalid_arguments", $"the arguments of {call.Name} are not valid JSON: {malformed.Message}");
        }

        try
        {
            var arguments = new KernelArguments();
            foreach (var (name, value) in call.Arguments ?? new Dictionary<string, object?>())
            {
                arguments[name] = value is JsonElement { ValueKind: JsonValueKind.String } text ? text.GetString() : value;
            }

            var result = (await kernel.InvokeAsync(tool, arguments, cancellationToken)).GetValue<object>();
            return result switch
            {
                null => ToolResult.Serialize(new { ok = true }),
                string text => text,
                JsonElement element => element.GetRawText(),
                _ => JsonSerializer.Serialize(result),
            };
        }
        catch (Exception exception) when (exception is ArgumentException or KernelException or JsonException or FormatException or InvalidCastException)
        {
            return ToolResult.Error("invalid_arguments", $"{call.Name} could not be called with these arguments: {exception.Message}");
        }
    }

    private async Task SaveProgressAsync(AttemptAssignment assignment, int turns, int retries, int interventions, CancellationToken cancellationToken) =>
        await leases.WriteFencedAsync(assignment.Lease, async (connection, transaction, token) =>
        {
            await using var command = new NpgsqlCommand("""
                UPDATE attempts SET turns = $3, retries = $4, interventions = $5, updated_at = now()
                WHERE card_id = $1 AND attempt = $2
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = assignment.Card.Id });
            command.Parameters.Add(new NpgsqlParameter { Value = assignment.Attempt });
            command.Parameters.Add(new NpgsqlParameter { Value = turns });
            command.Parameters.Add(new NpgsqlParameter { Value = retries });
            command.Parameters.Add(new NpgsqlParameter { Value = interventions });
            await command.ExecuteNonQueryAsync(token);
        }, cancellationToken);

    public static string SystemPrompt(AttemptAssignment assignment) => $"""
        You are {assignment.Agent}, one of {assignment.Of} developer agents of Artemis working on the same card at the same time, each in its own copy of the workspace.
        When you are done, Artemis's arbiter runs the card's acceptance tests (`{assignment.Card.TestCommand}`) on every attempt and keeps the best one: tests passing first, then fewer failures, then the smaller change, then the lower cost.
        The acceptance tests always come from the original source: editing tests or test infrastructure never helps and flags your attempt.
        Use the files tools to read and write files (paths relative to the workspace root) and the sandbox tools to run code and the tests (no network).
        Make the smallest change that makes the tests pass. When you are done, reply with a short summary of what you changed and call no tool.
        """;

    public static string TaskPrompt(AttemptAssignment assignment)
    {
        var card = assignment.Card;
        var listing = Directory.Exists(assignment.Workspace)
            ? string.Join(", ", new DirectoryInfo(assignment.Workspace).EnumerateFileSystemInfos()
                .Select(entry => entry is DirectoryInfo ? entry.Name + "/" : entry.Name).Order(StringComparer.Ordinal).Take(100))
            : "";
        return $"""
            Card {card.Id}: {card.Title}

            {card.Description}

            Acceptance tests: `{card.TestCommand}`

            The supervisor's plan:
            {assignment.Plan}

            At the workspace root: {listing}
            """;
    }

    private static string Cut(string text) => text.Length <= MaxEventText ? text : text[..MaxEventText] + "…";

    /// <summary>
    /// Semantic Kernel's function invocation filter on the agent's kernel: every tool call becomes a <c>tool.call</c>
    /// event with its arguments, whether it succeeded, and how long it took.
    /// </summary>
    /// <summary>No tool runs for a replica that may have lost its lease while it stalled (<see cref="CardLeases.EnsureHeldAsync"/>).</summary>
    private sealed class LeaseCheck(CardLeases leases, CardLease lease) : IFunctionInvocationFilter
    {
        public async Task OnFunctionInvocationAsync(FunctionInvocationContext context, Func<FunctionInvocationContext, Task> next)
        {
            await leases.EnsureHeldAsync(lease, context.CancellationToken);
            await next(context);
        }
    }

    private sealed class ToolCallEvents(EventPublisher events, string cardId, string agent, int attempt) : IFunctionInvocationFilter
    {
        public async Task OnFunctionInvocationAsync(FunctionInvocationContext context, Func<FunctionInvocationContext, Task> next)
        {
            var stopwatch = Stopwatch.StartNew();
            string? failure = null;
            try
            {
                await next(context);
            }
            catch (Exception exception)
            {
                failure = exception.Message;
                throw;
            }
            finally
            {
                var result = failure is null ? context.Result.GetValue<object>()?.ToString() : null;
                var (ok, code) = Outcome(result);
                var arguments = context.Arguments.ToDictionary(pair => pair.Key, pair => Cut(pair.Value?.ToString() ?? ""));
                await events.PublishAsync(cardId, EventKinds.ToolCall, new
                {
                    Agent = agent,
                    Attempt = attempt,
                    Tool = $"{context.Function.PluginName}.{context.Function.Name}",
                    Arguments = arguments,
                    Ok = failure is null && ok,
                    Error = failure ?? code,
                    DurationMs = stopwatch.ElapsedMilliseconds,
                    Result = result is null ? null : Cut(result),
                }, CancellationToken.None);
            }
        }

        private static (bool Ok, string? Code) Outcome(string? result)
        {
            try
            {
                using var document = JsonDocument.Parse(result ?? "{}");
                var root = document.RootElement;
                var ok = root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ok", out var flag) || flag.ValueKind != JsonValueKind.False;
                var code = !ok && root.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var value) ? value.GetString() : null;
                return (ok, code);
            }
            catch (JsonException)
            {
                return (true, null);
            }
        }
    }
}
