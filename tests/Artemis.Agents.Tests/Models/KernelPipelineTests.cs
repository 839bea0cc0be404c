using System.ComponentModel;
using Artemis.Agents.Costs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Artemis.Agents.Tests.Models;

/// <summary>A Semantic Kernel agent's calls go through the same priced pipeline: every round trip, attributed.</summary>
public sealed class KernelPipelineTests(ModelPipelineFixture pipeline) : IClassFixture<ModelPipelineFixture>
{
    [Fact]
    public async Task A_kernel_with_a_plugin_has_each_round_trip_of_automatic_function_calling_priced_for_its_card()
    {
        await pipeline.ResetAsync("""
            { "models": ["gpt-4o-mini"],
              "steps": [
                { "match": { "lastRole": "user" }, "reply": { "toolCalls": [ { "id": "call_1", "name": "answers_lookup", "arguments": { "what": "answer" } } ],
                                                             "usage": { "promptTokens": 100, "completionTokens": 20 } } },
                { "match": { "lastRole": "tool", "lastContentContains": "42" }, "reply": { "content": "The answer is 42.", "usage": { "promptTokens": 150, "cachedTokens": 100, "completionTokens": 10 } } } ] }
            """);
        var card = "card-" + Guid.NewGuid().ToString("N")[..8];
        var kernel = pipeline.Services.GetRequiredService<Kernel>();
        var answers = new Answers();
        kernel.Plugins.AddFromObject(answers, "answers");
        var settings = new CostAttribution(card, "development", "developer-1")
            .ApplyTo(new PromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() });

        var history = new ChatHistory();
        history.AddUserMessage("What is the answer?");

        var reply = await kernel.GetRequiredService<IChatCompletionService>().GetChatMessageContentAsync(history, settings, kernel);

        Assert.Equal("The answer is 42.", reply.Content);
        Assert.Equal(["answer"], answers.Asked);
        var rows = await pipeline.LedgerAsync(card);
        Assert.Equal((await pipeline.SimulatorRequestsAsync()).Count, rows.Count);
        Assert.Equal(2, rows.Count);
        Assert.Equal((100 * 0.15m + 20 * 0.60m + 50 * 0.15m + 100 * 0.075m + 10 * 0.60m) / 1_000_000m, rows.Sum(row => row.Usd));
    }

    private sealed class Answers
    {
        public List<string> Asked { get; } = [];

        [KernelFunction("lookup"), Description("Looks up an answer")]
        public string Lookup([Description("What to look up")] string what)
        {
            Asked.Add(what);
            return "42";
        }
    }
}
