using System.Globalization;
using System.Text;
using System.Text.Json;
using Artemis.Web.AgentsApi;

namespace Artemis.Web.Components.Cards;

/// <summary>One line saying what an event is about, for timelines: the known kinds in words, others by their fields.</summary>
public static class EventText
{
    private const int MaxValue = 160;
    private const int MaxLine = 400;

    private static readonly JsonSerializerOptions Indented = new(JsonSerializerOptions.Web) { WriteIndented = true };

    public static string Summary(CardEvent cardEvent)
    {
        ArgumentNullException.ThrowIfNull(cardEvent);
        var payload = cardEvent.Payload;
        if (payload.ValueKind != JsonValueKind.Object)
        {
            return Clip(payload.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? "" : payload.GetRawText(), MaxLine);
        }

        switch (cardEvent.Kind)
        {
            case EventKinds.CardCreated when String(payload, "title") is { } title:
                return Clip($"Created “{title}” on {String(payload, "workspace")} ({String(payload, "workspaceKind")}); tests: {String(payload, "testCommand")}", MaxLine);
            case EventKinds.CardStage or EventKinds.CardCancelled when String(payload, "to") is { } to:
                var from = String(payload, "from");
                var reason = String(payload, "reason");
                return Clip($"{(from is null ? "" : from + " → ")}{to}{(string.IsNullOrEmpty(reason) ? "" : ": " + reason)}", MaxLine);
        }

        var text = new StringBuilder();
        foreach (var property in payload.EnumerateObject())
        {
            var value = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                _ => null, // objects and arrays are in the payload below the line
            };
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            if (text.Length > 0)
            {
                text.Append(" · ");
            }

            text.Append(property.Name).Append(": ").Append(Clip(value.ReplaceLineEndings(" "), MaxValue));
            if (text.Length >= MaxLine)
            {
                break;
            }
        }

        return Clip(text.ToString(), MaxLine);
    }

    public static string Json(JsonElement payload) =>
        payload.ValueKind == JsonValueKind.Undefined ? "" : JsonSerializer.Serialize(payload, Indented);

    public static string Time(DateTimeOffset at) => at.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    public static string KindColour(string kind) => kind switch
    {
        EventKinds.CardCreated => "#0f6cbd",
        EventKinds.CardStage => "#8764b8",
        EventKinds.CardCancelled => "#3d3d3d",
        EventKinds.AgentMessage => "#038387",
        EventKinds.ToolCall => "#5c2e91",
        EventKinds.TestResult => "#107c10",
        EventKinds.Cost => "#8a6d00",
        EventKinds.BudgetAlert => "#c50f1f",
        EventKinds.Intervention => "#ca5010",
        _ => "#616161",
    };

    private static string? String(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Clip(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
