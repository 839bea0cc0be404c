namespace Artemis.Agents.Messaging;

/// <summary>The kinds of event Artemis publishes; the web and the tests match on these strings.</summary>
public static class EventKinds
{
    public const string CardCreated = "card.created";
    public const string CardStage = "card.stage";
    public const string CardCancelled = "card.cancelled";
    public const string AgentMessage = "agent.message";
    public const string ToolCall = "tool.call";
    public const string TestResult = "test.result";
    public const string Cost = "cost";
    public const string BudgetAlert = "budget.alert";
    public const string Intervention = "supervisor.intervention";

    public static readonly IReadOnlyList<string> All =
        [CardCreated, CardStage, CardCancelled, AgentMessage, ToolCall, TestResult, Cost, BudgetAlert, Intervention];
}
