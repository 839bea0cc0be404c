using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;

namespace Artemis.Agents.Supervision;

/// <summary>The supervisor's plan for a card: one priced model call, with the lessons of similar finished cards.</summary>
public sealed class Planner(IChatClient chat, Lessons lessons)
{
    public const string Stage = "planning";
    public const string Agent = "supervisor";
    public const int LessonsInPrompt = 3;
    public const int MaxPlanTokens = 1024;

    public const string Instructions = """
        You plan cards for Artemis, a team of developer agents. Read the card and write a short, numbered plan (at most
        eight steps) that a developer agent with file tools and a sandbox can follow: what to read, what to change, how
        to check it with the acceptance tests. Do not write the code. Never suggest changing the tests.
        """;

    public async Task<string> PlanAsync(Card card, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        var relevant = await lessons.RelevantAsync($"{card.Title} {card.Description}", card.Id, LessonsInPrompt, cancellationToken);
        var prompt = $"""
            Card {card.Id}: {card.Title}

            {card.Description}

            Acceptance tests: `{card.TestCommand}`
            """;
        if (relevant.Count > 0)
        {
            prompt += "\n\nLessons from earlier cards:\n" + string.Join("\n", relevant.Select(lesson => "- " + lesson));
        }

        var options = new CostAttribution(card.Id, Stage, Agent) { CardBudgetUsd = card.BudgetUsd }
            .ApplyTo(new ChatOptions { MaxOutputTokens = MaxPlanTokens });
        var response = await chat.GetResponseAsync([new(ChatRole.System, Instructions), new(ChatRole.User, prompt)], options, cancellationToken);
        var plan = response.Text.Trim();
        return plan.Length > 0 ? plan : "1. Read the code the card is about.\n2. Make the change.\n3. Run the acceptance tests until they pass.";
    }
}
