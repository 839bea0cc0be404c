using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Artemis.Agents.Costs;

/// <summary>
/// Counts a request's prompt tokens before it is sent (o200k_base, the encoding of the gpt-4o, gpt-4.1, o-series and
/// realtime families), for the worst-case price of a call. Overheads per message and per tool follow OpenAI's
/// published counting; the estimate errs high, never low. A tool-calling conversation sends its whole history again on
/// every round trip, so a text the request holds (a message's text, a tool's result or description) is counted once
/// and its count kept with the string itself: strings are immutable, so a kept count can never be stale, and it goes
/// when the string does. Texts made for the count (arguments and results serialized here) are counted every time.
/// </summary>
public sealed class TokenEstimator
{
    private const int PerMessage = 4;
    private const int PerRequest = 3;

    private readonly Tokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
    private readonly ConditionalWeakTable<string, StrongBox<int>> _counted = new();

    public int CountPromptTokens(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var total = PerRequest;
        foreach (var message in messages)
        {
            total += PerMessage + Held(message.Role.Value);
            foreach (var content in message.Contents)
            {
                total += content switch
                {
                    TextContent text => Held(text.Text),
                    FunctionCallContent call => Held(call.Name) + Made(JsonSerializer.Serialize(call.Arguments)),
                    FunctionResultContent { Result: string result } => Held(result),
                    FunctionResultContent result => Made(result.Result?.ToString()),
                    _ => Made(JsonSerializer.Serialize(content, AIJsonUtilities.DefaultOptions)),
                };
            }
        }

        foreach (var tool in options?.Tools ?? [])
        {
            total += PerMessage + Held(tool.Name) + Held(tool.Description)
                + (tool is AIFunctionDeclaration function ? Made(function.JsonSchema.GetRawText()) : 0);
        }

        return total;
    }

    /// <summary>A text the request holds: counted the first time it is seen, then its kept count.</summary>
    private int Held(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        if (_counted.TryGetValue(text, out var kept))
        {
            return kept.Value;
        }

        var count = _tokenizer.CountTokens(text);
        _counted.TryAdd(text, new StrongBox<int>(count));
        return count;
    }

    /// <summary>A text made for this count (a new string each time): counted, not kept.</summary>
    private int Made(string? text) => string.IsNullOrEmpty(text) ? 0 : _tokenizer.CountTokens(text);
}
