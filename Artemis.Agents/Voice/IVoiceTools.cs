using System.Text.Json.Nodes;

namespace Artemis.Agents.Voice;

/// <summary>
/// The tools a voice session offers the model: read_file, list_dir, open_file and create_card. Results are JSON text
/// for the model; an expected failure (not found, denied, too large) is a result with an <c>error</c>, never an
/// exception. The shared <c>files</c> plugin will stand behind this once it exists (ADR 008).
/// </summary>
public interface IVoiceTools
{
    /// <summary>Function tools in the realtime session's shape: <c>{type:"function", name, description, parameters}</c>.</summary>
    JsonArray Definitions();

    Task<VoiceToolResult> InvokeAsync(string name, string argumentsJson, VoiceToolContext context, CancellationToken cancellationToken);
}

/// <summary>What the model gets back, and optionally what the user's page should show (open_file).</summary>
public sealed record VoiceToolResult(string Output, JsonObject? BrowserEvent = null);

public sealed record VoiceToolContext(string SessionId);

/// <summary>A card asked for by voice ("make a card to …"), published for whoever creates cards.</summary>
public sealed record VoiceCardRequest(string Id, string SessionId, string Title, string Description, DateTimeOffset RequestedAt);
