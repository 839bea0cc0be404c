using System.Text.Json;
using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Artemis.Agents.Tests.Costs;

public sealed class TokenEstimatorTests
{
    private static readonly Tokenizer O200k = TiktokenTokenizer.CreateForEncoding("o200k_base");

    /// <summary>The same conversation made of new strings with the same texts (nothing kept can match them).</summary>
    private static List<ChatMessage> Copy(IEnumerable<ChatMessage> messages) =>
        [.. messages.Select(message => new ChatMessage(message.Role, [.. message.Contents.Select(content => content switch
        {
            TextContent text => new TextContent(new string(text.Text.AsSpan())),
            FunctionResultContent { Result: string result } function => new FunctionResultContent(function.CallId, new string(result.AsSpan())),
            _ => content,
        })]))];

    [Fact]
    public void A_message_is_its_text_and_role_plus_the_published_overheads()
    {
        var estimator = new TokenEstimator();
        const string text = "Add a unit test for the parser, then run every test.";

        var count = estimator.CountPromptTokens([new ChatMessage(ChatRole.User, text)], null);

        Assert.Equal(3 + 4 + O200k.CountTokens("user") + O200k.CountTokens(text), count);
    }

    [Fact]
    public void A_growing_conversation_counted_round_after_round_gives_what_a_first_count_of_the_same_texts_does()
    {
        var estimator = new TokenEstimator();
        var conversation = new List<ChatMessage>
        {
            new(ChatRole.System, "You are a careful developer. " + string.Concat(Enumerable.Repeat("Keep changes small. ", 200))),
            new(ChatRole.User, "Add a unit test for the parser."),
        };
        var options = new ChatOptions { Tools = [AIFunctionFactory.Create((string path) => "", "read_file", "Reads a file of the workspace.")] };

        for (var round = 0; round < 5; round++)
        {
            var counted = estimator.CountPromptTokens(conversation, options);
            Assert.Equal(new TokenEstimator().CountPromptTokens(Copy(conversation), options), counted);
            Assert.Equal(counted, estimator.CountPromptTokens(Copy(conversation), options));

            // The next round trip: the model asked for a file, the tool answered (a string, then a JSON value).
            conversation.Add(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent($"call_{round}", "read_file", new Dictionary<string, object?> { ["path"] = $"src/file{round}.cs" })]));
            conversation.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent($"call_{round}", round % 2 == 0
                ? string.Concat(Enumerable.Repeat($"line {round} of the file\n", 300))
                : JsonSerializer.SerializeToElement(new { lines = round * 100 }))]));
        }
    }

    [Fact]
    public void A_message_whose_text_is_replaced_is_counted_from_its_new_text()
    {
        var estimator = new TokenEstimator();
        var message = new ChatMessage(ChatRole.User, "short");
        var before = estimator.CountPromptTokens([message], null);

        message.Contents = [new TextContent(string.Concat(Enumerable.Repeat("a much longer text than before ", 50)))];
        var after = estimator.CountPromptTokens([message], null);

        Assert.Equal(before - O200k.CountTokens("short") + O200k.CountTokens(message.Text), after);
        Assert.True(after > before + 100);
    }
}
