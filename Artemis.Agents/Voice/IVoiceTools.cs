using System.Text.Json.Nodes;

namespace Artemis.Agents.Voice;

/// <summary>
/// The tools a voice session offers the model: read_file, list_dir, open_file and create_card. Results are JSON text
/// for the model; an expected failure (not found, denied, too large, an invalid card) is a result
/// <c>{ok:false, error:{code, message}}</c>, never an exception (ADR 008).
/// </summary>
public interface IVoiceTools
{
    /// <summary>Function tools in the realtime session's shape: <c>{type:"function", name, description, parameters}</c>.</summary>
    JsonArray Definitions();

    Task<VoiceToolResult> InvokeAsync(string name, string argumentsJson, VoiceToolContext context, CancellationToken cancellationToken);
}

/// <summary>What the model gets back, and optionally what the user's page should show (open_file, card_created).</summary>
public sealed record VoiceToolResult(string Output, JsonObject? BrowserEvent = null);

public sealed record VoiceToolContext(string SessionId);
