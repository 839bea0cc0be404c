using System.Text;
using System.Text.Json;

namespace Artemis.ModelSimulator;

/// <summary>One message of a chat request: its role and its text (string content, or the text parts joined).</summary>
public sealed record ChatMessageView(string Role, string Text);

/// <summary>
/// What the simulator reads of an OpenAI chat completion request. The body is read as a <see cref="JsonDocument"/>
/// rather than bound to types so that any shape the clients send (content as a string or as parts, unknown fields)
/// is accepted, and the messages can be logged exactly as received.
/// </summary>
public sealed class ChatRequest
{
    private ChatRequest(string? model, bool stream, bool includeUsage, int? maxTokens,
        IReadOnlyList<ChatMessageView> messages, JsonElement messagesJson, IReadOnlyList<string> toolNames)
    {
        Model = model;
        Stream = stream;
        IncludeUsage = includeUsage;
        MaxTokens = maxTokens;
        Messages = messages;
        MessagesJson = messagesJson;
        ToolNames = toolNames;
    }

    public string? Model { get; }

    public bool Stream { get; }

    /// <summary><c>stream_options.include_usage</c>.</summary>
    public bool IncludeUsage { get; }

    /// <summary><c>max_completion_tokens</c>, or else <c>max_tokens</c>.</summary>
    public int? MaxTokens { get; }

    public IReadOnlyList<ChatMessageView> Messages { get; }

    /// <summary>The <c>messages</c> array as received (a clone that outlives the request's document).</summary>
    public JsonElement MessagesJson { get; }

    public IReadOnlyList<string> ToolNames { get; }

    public ChatMessageView Last => Messages[^1];

    /// <summary>
    /// Reads the parts of <paramref name="body"/> the simulator uses. Returns false with an OpenAI-style error
    /// (message and offending parameter) when the request cannot be answered. What could be read is still returned
    /// in <paramref name="partial"/> (model, stream, messages) so that the request log can show it.
    /// </summary>
    public static bool TryRead(JsonElement body, out ChatRequest? request, out PartialRequest partial,
        out string? error, out string? param)
    {
        request = null;
        partial = new PartialRequest(null, false, false, null, []);
        error = null;
        param = null;

        if (body.ValueKind != JsonValueKind.Object)
        {
            error = "The request body must be a JSON object.";
            return false;
        }

        var model = body.TryGetProperty("model", out var modelElement) && modelElement.ValueKind == JsonValueKind.String
            ? modelElement.GetString()
            : null;
        var stream = body.TryGetProperty("stream", out var streamElement) && streamElement.ValueKind == JsonValueKind.True;
        var includeUsage = body.TryGetProperty("stream_options", out var streamOptions)
            && streamOptions.ValueKind == JsonValueKind.Object
            && streamOptions.TryGetProperty("include_usage", out var includeElement)
            && includeElement.ValueKind == JsonValueKind.True;
        var toolNames = ReadToolNames(body);
        JsonElement? messagesJson = body.TryGetProperty("messages", out var messagesElement)
            ? messagesElement.Clone()
            : null;
        partial = new PartialRequest(model, stream, includeUsage, messagesJson, toolNames);

        if (messagesJson is not { } messages || messages.ValueKind == JsonValueKind.Null)
        {
            error = "Missing required parameter: 'messages'.";
            param = "messages";
            return false;
        }

        if (messages.ValueKind != JsonValueKind.Array)
        {
            error = $"Invalid type for 'messages': expected an array, but got {Describe(messages.ValueKind)} instead.";
            param = "messages";
            return false;
        }

        if (messages.GetArrayLength() == 0)
        {
            error = "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.";
            param = "messages";
            return false;
        }

        var views = new List<ChatMessageView>();
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object
                || !message.TryGetProperty("role", out var roleElement)
                || roleElement.ValueKind != JsonValueKind.String)
            {
                error = $"Missing required parameter: 'messages[{index}].role'.";
                param = $"messages[{index}].role";
                return false;
            }

            views.Add(new ChatMessageView(roleElement.GetString()!, ReadText(message)));
            index++;
        }

        int? maxTokens = null;
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (body.TryGetProperty(name, out var maxElement) && maxElement.ValueKind == JsonValueKind.Number
                && maxElement.TryGetInt32(out var max))
            {
                if (max < 1)
                {
                    error = $"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {max} instead.";
                    param = name;
                    return false;
                }

                maxTokens = max;
                break;
            }
        }

        request = new ChatRequest(model, stream, includeUsage, maxTokens, views, messages, toolNames);
        return true;
    }

    /// <summary>
    /// A realtime conversation seen as a chat request, so that the same script steps answer both: user audio is a
    /// <c>user</c> message holding its transcript, a function_call_output a <c>tool</c> message holding the output.
    /// </summary>
    public static ChatRequest FromConversation(string? model, IReadOnlyList<ChatMessageView> messages, IReadOnlyList<string> toolNames, int? maxTokens) =>
        new(model, stream: true, includeUsage: true, maxTokens, messages,
            JsonSerializer.SerializeToElement(messages.Select(m => new { role = m.Role, content = m.Text })), toolNames);

    /// <summary>The text of a message: string content, or the <c>text</c> of its content parts joined.</summary>
    public static string ReadText(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return "";
        }

        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var partText)
                        && partText.ValueKind == JsonValueKind.String)
                    {
                        text.Append(partText.GetString());
                    }
                }

                return text.ToString();
            default:
                return "";
        }
    }

    private static string[] ReadToolNames(JsonElement body)
    {
        if (!body.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var names = new List<string>();
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind == JsonValueKind.Object
                && tool.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                names.Add(name.GetString()!);
            }
        }

        return [.. names];
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}

/// <summary>What could be read of a request that cannot be answered, for the request log.</summary>
public sealed record PartialRequest(string? Model, bool Stream, bool IncludeUsage, JsonElement? Messages, IReadOnlyList<string> Tools);
