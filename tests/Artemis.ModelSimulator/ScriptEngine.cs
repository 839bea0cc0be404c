using System.Globalization;
using System.Text.Json;

namespace Artemis.ModelSimulator;

/// <summary>How a request is to be answered: a fault, a reply (possibly with a slow/malformedUsage fault), or not at all.</summary>
public sealed record ScriptDecision
{
    /// <summary>The step's name, its index (<c>steps[i]</c>) when unnamed, or <c>fallback</c>.</summary>
    public string? Step { get; init; }

    /// <summary>A <c>status</c> or <c>drop</c> fault: answer with it instead of a reply.</summary>
    public StepFault? Fault { get; init; }

    /// <summary>A <c>slow</c> or <c>malformedUsage</c> fault applying to <see cref="Reply"/>.</summary>
    public StepFault? Modifier { get; init; }

    public ScriptReply? Reply { get; init; }

    /// <summary>Set when nothing matched and the script has no fallback.</summary>
    public string? NoMatch { get; init; }
}

/// <summary>
/// The active script and its counters (how often each step has answered and faulted). Thread-safe: a decision is
/// taken, and the counters moved, under one lock, so concurrent requests never share one answer of a step.
/// </summary>
public sealed class ScriptEngine
{
    public const string DefaultModel = "gpt-4o-mini";

    /// <summary>Answers any message with a short reply.</summary>
    public static readonly SimulatorScript DefaultScript = new()
    {
        Models = [DefaultModel],
        Steps = [],
        Fallback = new ScriptReply
        {
            Content = "Hello from the Artemis model simulator. No script is loaded, so every message gets this reply.",
        },
    };

    private readonly Lock _gate = new();
    private State _state;
    private long _toolCallIds;

    public ScriptEngine(SimulatorScript script)
    {
        _state = new State(script);
    }

    public SimulatorScript Current
    {
        get
        {
            lock (_gate)
            {
                return _state.Script;
            }
        }
    }

    /// <summary>The models the script names, or the default model.</summary>
    public IReadOnlyList<string> Models => Current.Models is { Count: > 0 } models ? models : [DefaultModel];

    /// <summary>Replaces the script; the counters start again from zero.</summary>
    public void Replace(SimulatorScript script)
    {
        lock (_gate)
        {
            _state = new State(script);
        }
    }

    /// <summary>A tool call id for a scripted call that has none: call_1, call_2, …</summary>
    public string NextToolCallId() =>
        "call_" + Interlocked.Increment(ref _toolCallIds).ToString(CultureInfo.InvariantCulture);

    public ScriptDecision Decide(ChatRequest request)
    {
        lock (_gate)
        {
            var script = _state.Script;
            StepFault? modifier = null;
            for (var i = 0; i < script.Steps.Count; i++)
            {
                var step = script.Steps[i];
                var exhausted = step.Reply is not null && step.Times is { } times && _state.Answered[i] >= times;
                if (exhausted || !Matches(step.Match, request))
                {
                    continue;
                }

                var name = step.Name ?? string.Create(CultureInfo.InvariantCulture, $"steps[{i}]");
                if (modifier is null && step.Fault is { } fault && _state.Faulted[i] < (fault.Times ?? 1))
                {
                    _state.Faulted[i]++;
                    if (fault.Kind is FaultKinds.Status or FaultKinds.Drop)
                    {
                        return new ScriptDecision { Step = name, Fault = fault };
                    }

                    // slow / malformedUsage change how a reply is given; a step without a reply of its own lends
                    // the fault to the reply of the next step that matches (or the fallback).
                    modifier = fault;
                }

                if (step.Reply is null)
                {
                    continue;
                }

                _state.Answered[i]++;
                return new ScriptDecision { Step = name, Reply = step.Reply, Modifier = modifier };
            }

            if (script.Fallback is { } fallback)
            {
                return new ScriptDecision { Step = "fallback", Reply = fallback, Modifier = modifier };
            }

            var last = request.Last;
            var text = last.Text.Length > 200 ? string.Concat(last.Text.AsSpan(0, 200), "…") : last.Text;
            return new ScriptDecision
            {
                NoMatch = $"The model simulator has no script step matching the last message (role '{last.Role}', "
                    + $"content \"{text}\") and its script has no fallback.",
            };
        }
    }

    private static bool Matches(StepMatch? match, ChatRequest request)
    {
        if (match is null)
        {
            return true;
        }

        var last = request.Last;
        return (match.LastRole is null || string.Equals(match.LastRole, last.Role, StringComparison.Ordinal))
            && (match.LastContentContains is null || last.Text.Contains(match.LastContentContains, StringComparison.Ordinal))
            && (match.AnyContentContains is null
                || request.Messages.Any(m => m.Text.Contains(match.AnyContentContains, StringComparison.Ordinal)))
            && (match.Model is null || string.Equals(match.Model, request.Model, StringComparison.Ordinal));
    }

    private sealed class State(SimulatorScript script)
    {
        public SimulatorScript Script { get; } = script;

        public int[] Answered { get; } = new int[script.Steps.Count];

        public int[] Faulted { get; } = new int[script.Steps.Count];
    }
}

/// <summary>A reply made concrete for one request: tool call ids, argument text, finish reason and usage.</summary>
public sealed record PlannedReply(
    string? Content,
    IReadOnlyList<PlannedToolCall> ToolCalls,
    string FinishReason,
    WireUsage Usage,
    TimeSpan Delay);

public sealed record PlannedToolCall(string Id, string Name, string Arguments);

public static class ReplyPlanner
{
    /// <summary>The token counts a malformed usage block reports as completion tokens.</summary>
    public const int MalformedCompletionTokens = -1;

    public static PlannedReply Plan(ChatRequest request, ScriptReply reply, StepFault? modifier, ScriptEngine engine)
    {
        var content = reply.Content;
        var toolCalls = (reply.ToolCalls ?? [])
            .Select(call => new PlannedToolCall(call.Id ?? engine.NextToolCallId(), call.Name!, ArgumentsText(call.Arguments)))
            .ToList();

        var completionTokens = CompletionTokens(content, toolCalls);
        var finishReason = reply.FinishReason ?? (toolCalls.Count > 0 ? "tool_calls" : "stop");
        if (reply.FinishReason is null && toolCalls.Count == 0 && content is not null
            && request.MaxTokens is { } max && completionTokens > max)
        {
            // Cut the reply to the limit, as a model would: max - 1 tokens of text (4 characters each) + 1.
            content = content[..Math.Min(content.Length, (max - 1) * 4)];
            completionTokens = max;
            finishReason = "length";
        }

        var promptTokens = reply.Usage?.PromptTokens ?? PromptTokens(request);
        completionTokens = reply.Usage?.CompletionTokens ?? completionTokens;
        var cachedTokens = reply.Usage?.CachedTokens ?? 0;
        var usage = modifier?.Kind == FaultKinds.MalformedUsage
            ? new WireUsage(promptTokens, MalformedCompletionTokens, null,
                new PromptTokensDetails(cachedTokens, 0), new CompletionTokensDetails(0, 0, 0, 0))
            : new WireUsage(promptTokens, completionTokens, promptTokens + completionTokens,
                new PromptTokensDetails(cachedTokens, 0), new CompletionTokensDetails(0, 0, 0, 0));

        return new PlannedReply(content, toolCalls, finishReason, usage, TimeSpan.FromMilliseconds(reply.DelayMs ?? 0));
    }

    /// <summary>Sum over messages of ceil(length of text / 4) + 4.</summary>
    public static int PromptTokens(ChatRequest request) => request.Messages.Sum(m => CeilingQuarter(m.Text.Length) + 4);

    /// <summary>ceil(length of content + length of every arguments text) / 4) + 1.</summary>
    public static int CompletionTokens(string? content, IEnumerable<PlannedToolCall> toolCalls) =>
        CeilingQuarter((content?.Length ?? 0) + toolCalls.Sum(call => call.Arguments.Length)) + 1;

    private static int CeilingQuarter(int length) => (length + 3) / 4;

    private static string ArgumentsText(JsonElement? arguments) => arguments switch
    {
        null => "{}",
        { ValueKind: JsonValueKind.Null } => "{}",
        { ValueKind: JsonValueKind.String } text => text.GetString()!,
        // Compact, whatever the script's layout.
        { } json => JsonSerializer.Serialize(json),
    };
}
