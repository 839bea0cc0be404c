using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Artemis.Agents.Costs;

/// <summary>
/// Counts a request's prompt tokens before it is sent (o200k_base, the encoding of the gpt-4o, gpt-4.1, o-series and
/// realtime families), for the worst-case price of a call. Overheads per message and per tool follow OpenAI's
/// published counting; the estimate errs high, never low.
/// </summary>
public sealed class TokenEstimator
{
    private const int PerMessage = 4;
    private const int PerRequest = 3;

    private readonly Tokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");

    public int CountPromptTokens(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var total = PerRequest;
        foreach (var message in messages)
        {
            total += PerMessage + _tokenizer.CountTokens(message.Role.Value);
            foreach (var content in message.Contents)
            {
                total += content switch
                {
                    TextContent text => _tokenizer.CountTokens(text.Text),
                    FunctionCallContent call => _tokenizer.CountTokens(call.Name) + _tokenizer.CountTokens(JsonSerializer.Serialize(call.Arguments)),
                    FunctionResultContent result => _tokenizer.CountTokens(result.Result?.ToString() ?? ""),
                    _ => _tokenizer.CountTokens(JsonSerializer.Serialize(content, AIJsonUtilities.DefaultOptions)),
                };
            }
        }

        foreach (var tool in options?.Tools ?? [])
        {
            total += PerMessage + _tokenizer.CountTokens(tool.Name) + _tokenizer.CountTokens(tool.Description)
                + (tool is AIFunctionDeclaration function ? _tokenizer.CountTokens(function.JsonSchema.GetRawText()) : 0);
        }

        return total;
    }
}
