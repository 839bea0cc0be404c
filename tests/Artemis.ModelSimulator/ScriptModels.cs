using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Artemis.ModelSimulator;

/// <summary>
/// A script: the models the simulator claims to serve, the steps that answer chat requests (tried in order) and an
/// optional fallback reply. Scripts are JSON in camelCase; README.md describes the semantics.
/// </summary>
public sealed record SimulatorScript
{
    public IReadOnlyList<string>? Models { get; init; }

    public IReadOnlyList<ScriptStep> Steps { get; init; } = [];

    public ScriptReply? Fallback { get; init; }

    /// <summary>What the realtime endpoint's simulated speech recognition hears (README.md, Realtime).</summary>
    public RealtimeScript? Realtime { get; init; }
}

public sealed record RealtimeScript
{
    /// <summary>The transcript of a session's n-th committed user audio; the last one repeats once they run out.</summary>
    public IReadOnlyList<string>? UserTranscripts { get; init; }
}

public sealed record ScriptStep
{
    public string? Name { get; init; }

    public StepMatch? Match { get; init; }

    /// <summary>How many requests the step's reply may answer; null = unlimited.</summary>
    public int? Times { get; init; }

    public StepFault? Fault { get; init; }

    public ScriptReply? Reply { get; init; }
}

/// <summary>Conditions on the request; every condition given must hold. None given = matches any request.</summary>
public sealed record StepMatch
{
    /// <summary>Role of the last message: system, developer, user, assistant or tool.</summary>
    public string? LastRole { get; init; }

    /// <summary>Ordinal substring of the last message's text.</summary>
    public string? LastContentContains { get; init; }

    /// <summary>Ordinal substring of the text of any message of the request.</summary>
    public string? AnyContentContains { get; init; }

    /// <summary>The request's model, compared ordinally.</summary>
    public string? Model { get; init; }
}

public sealed record StepFault
{
    /// <summary>status, drop, slow or malformedUsage (<see cref="FaultKinds"/>).</summary>
    public string? Kind { get; init; }

    /// <summary>For <c>status</c>: the HTTP status to answer (400–599).</summary>
    public int? Status { get; init; }

    /// <summary>For <c>status</c>: sets the Retry-After header (seconds).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>For <c>status</c>: the error message (a default per status otherwise).</summary>
    public string? Message { get; init; }

    /// <summary>For <c>slow</c>: how long to wait before answering.</summary>
    public int? DelayMs { get; init; }

    /// <summary>How many of the requests the step matches get the fault; default 1.</summary>
    public int? Times { get; init; }
}

public sealed record ScriptReply
{
    public string? Content { get; init; }

    public IReadOnlyList<ScriptToolCall>? ToolCalls { get; init; }

    public ScriptUsage? Usage { get; init; }

    /// <summary>Delays the answer; a streamed answer spreads it between its chunks.</summary>
    public int? DelayMs { get; init; }

    /// <summary>Overrides finish_reason (stop, tool_calls, length, content_filter).</summary>
    public string? FinishReason { get; init; }

    /// <summary>Realtime only: how long the spoken reply lasts (a generated tone); 60 ms per character of content when not given.</summary>
    public int? AudioMs { get; init; }
}

public sealed record ScriptToolCall
{
    /// <summary>The tool call id; <c>call_&lt;n&gt;</c> (n counting from 1 per simulator) when not given.</summary>
    public string? Id { get; init; }

    public string? Name { get; init; }

    /// <summary>A JSON object (sent as its JSON text) or a string (sent as is).</summary>
    public JsonElement? Arguments { get; init; }
}

/// <summary>Reported token counts; a figure not given is computed (README.md).</summary>
public sealed record ScriptUsage
{
    public int? PromptTokens { get; init; }

    public int? CachedTokens { get; init; }

    public int? CompletionTokens { get; init; }

    /// <summary>Realtime only: how many of the prompt tokens are audio.</summary>
    public int? InputAudioTokens { get; init; }

    /// <summary>Realtime only: how many of the completion tokens are audio.</summary>
    public int? OutputAudioTokens { get; init; }
}

public static class FaultKinds
{
    public const string Status = "status";
    public const string Drop = "drop";
    public const string Slow = "slow";
    public const string MalformedUsage = "malformedUsage";

    public static readonly IReadOnlyList<string> All = [Status, Drop, Slow, MalformedUsage];
}

/// <summary>Reads and checks scripts: every problem is named with the path of the offending field.</summary>
public static class ScriptParser
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // A misspelt field would otherwise be ignored silently and the step would match more than intended.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    private static readonly string[] FinishReasons = ["stop", "tool_calls", "length", "content_filter"];

    /// <summary>Parses and validates; on failure <paramref name="error"/> names every problem found.</summary>
    public static bool TryParse(string json, out SimulatorScript? script, out string? error)
    {
        script = null;
        try
        {
            script = JsonSerializer.Deserialize<SimulatorScript>(json, Options);
        }
        catch (JsonException exception)
        {
            error = "The script is not valid JSON for a simulator script: " + exception.Message
                + (exception.Path is { } path && !exception.Message.Contains(path, StringComparison.Ordinal) ? $" (at {path})" : "");
            return false;
        }

        if (script is null)
        {
            error = "The script is empty (null): expected an object with 'steps' and/or 'fallback'.";
            return false;
        }

        var problems = Validate(script);
        if (problems.Count > 0)
        {
            error = "The script is invalid: " + string.Join("; ", problems);
            script = null;
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Parses and validates, throwing <see cref="InvalidOperationException"/> naming the problems.</summary>
    public static SimulatorScript Parse(string json, string source)
    {
        if (!TryParse(json, out var script, out var error))
        {
            throw new InvalidOperationException($"{source}: {error}");
        }

        return script!;
    }

    public static IReadOnlyList<string> Validate(SimulatorScript script)
    {
        var problems = new List<string>();

        if (script.Models is { } models)
        {
            for (var i = 0; i < models.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(models[i]))
                {
                    problems.Add(Invariant($"models[{i}] is empty"));
                }
            }
        }

        if (script.Steps is null)
        {
            problems.Add("steps is null: give an array (it may be empty)");
        }
        else
        {
            for (var i = 0; i < script.Steps.Count; i++)
            {
                ValidateStep(script.Steps[i], i, problems);
            }
        }

        if (script.Fallback is { } fallback)
        {
            ValidateReply(fallback, "fallback", problems);
        }

        if (script.Realtime?.UserTranscripts is { } transcripts && transcripts.Any(t => t is null))
        {
            problems.Add("realtime.userTranscripts has a null entry");
        }

        return problems;
    }

    private static void ValidateStep(ScriptStep? step, int index, List<string> problems)
    {
        var at = Invariant($"steps[{index}]");
        if (step is null)
        {
            problems.Add($"{at} is null");
            return;
        }

        if (step.Name is not null)
        {
            at += $" ('{step.Name}')";
        }

        if (step.Reply is null && step.Fault is null)
        {
            problems.Add($"{at} has neither a reply nor a fault");
        }

        NotNegative(step.Times, $"{at}.times", problems);

        if (step.Match?.LastRole is { } role && !Roles.Contains(role, StringComparer.Ordinal))
        {
            problems.Add($"{at}.match.lastRole '{role}' is not a role: expected one of {string.Join(", ", Roles)}");
        }

        if (step.Fault is { } fault)
        {
            ValidateFault(fault, $"{at}.fault", problems);
        }

        if (step.Reply is { } reply)
        {
            ValidateReply(reply, $"{at}.reply", problems);
        }
    }

    private static void ValidateFault(StepFault fault, string at, List<string> problems)
    {
        if (fault.Kind is null)
        {
            problems.Add($"{at}.kind is missing: expected one of {string.Join(", ", FaultKinds.All)}");
        }
        else if (!FaultKinds.All.Contains(fault.Kind, StringComparer.Ordinal))
        {
            problems.Add($"{at}.kind '{fault.Kind}' is unknown: expected one of {string.Join(", ", FaultKinds.All)}");
        }

        if (fault.Kind == FaultKinds.Status)
        {
            if (fault.Status is not { } status)
            {
                problems.Add($"{at}.status is missing: a 'status' fault needs an HTTP status between 400 and 599");
            }
            else if (status is < 400 or > 599)
            {
                problems.Add(Invariant($"{at}.status {status} is outside 400–599"));
            }
        }
        else if (fault.Status is { } status && status is < 400 or > 599)
        {
            problems.Add(Invariant($"{at}.status {status} is outside 400–599"));
        }

        if (fault.Kind == FaultKinds.Slow && fault.DelayMs is null)
        {
            problems.Add($"{at}.delayMs is missing: a 'slow' fault needs the delay in milliseconds");
        }

        NotNegative(fault.RetryAfterSeconds, $"{at}.retryAfterSeconds", problems);
        NotNegative(fault.DelayMs, $"{at}.delayMs", problems);
        NotNegative(fault.Times, $"{at}.times", problems);
    }

    private static void ValidateReply(ScriptReply reply, string at, List<string> problems)
    {
        NotNegative(reply.DelayMs, $"{at}.delayMs", problems);
        NotNegative(reply.AudioMs, $"{at}.audioMs", problems);
        if (reply.Usage is { } usage)
        {
            NotNegative(usage.PromptTokens, $"{at}.usage.promptTokens", problems);
            NotNegative(usage.CachedTokens, $"{at}.usage.cachedTokens", problems);
            NotNegative(usage.CompletionTokens, $"{at}.usage.completionTokens", problems);
            if (usage is { PromptTokens: { } prompt, CachedTokens: { } cached } && cached > prompt)
            {
                problems.Add(Invariant($"{at}.usage.cachedTokens {cached} exceeds promptTokens {prompt}"));
            }

            NotNegative(usage.InputAudioTokens, $"{at}.usage.inputAudioTokens", problems);
            NotNegative(usage.OutputAudioTokens, $"{at}.usage.outputAudioTokens", problems);
            if (usage is { PromptTokens: { } p, InputAudioTokens: { } audioIn } && audioIn > p)
            {
                problems.Add(Invariant($"{at}.usage.inputAudioTokens {audioIn} exceeds promptTokens {p}"));
            }

            if (usage is { CompletionTokens: { } c, OutputAudioTokens: { } audioOut } && audioOut > c)
            {
                problems.Add(Invariant($"{at}.usage.outputAudioTokens {audioOut} exceeds completionTokens {c}"));
            }
        }

        if (reply.FinishReason is { } finish && !FinishReasons.Contains(finish, StringComparer.Ordinal))
        {
            problems.Add($"{at}.finishReason '{finish}' is unknown: expected one of {string.Join(", ", FinishReasons)}");
        }

        if (reply.ToolCalls is not { } calls)
        {
            return;
        }

        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            var callAt = Invariant($"{at}.toolCalls[{i}]");
            if (call is null)
            {
                problems.Add($"{callAt} is null");
                continue;
            }

            if (string.IsNullOrWhiteSpace(call.Name))
            {
                problems.Add($"{callAt}.name is missing");
            }

            if (call.Id is { } id && string.IsNullOrWhiteSpace(id))
            {
                problems.Add($"{callAt}.id is empty");
            }

            if (call.Arguments is { } arguments
                && arguments.ValueKind is not (JsonValueKind.Object or JsonValueKind.String or JsonValueKind.Null))
            {
                problems.Add($"{callAt}.arguments must be a JSON object (or a string holding the JSON text), not {arguments.ValueKind}");
            }
        }
    }

    private static void NotNegative(int? value, string at, List<string> problems)
    {
        if (value is < 0)
        {
            problems.Add(Invariant($"{at} is negative ({value})"));
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
