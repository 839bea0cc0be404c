using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;

namespace Artemis.Agents.Costs;

/// <summary>
/// Who a model call is for, carried in <see cref="ChatOptions.AdditionalProperties"/> so that it travels with each
/// request through function invocation: card, stage and agent. The CostFilter removes it before the request is sent.
/// </summary>
public sealed record CostAttribution(string? CardId, string? Stage, string? Agent)
{
    /// <summary>The card's own budget when it set one (never above <c>Artemis:Budget:PerCardUsd</c>); null: that setting.</summary>
    public decimal? CardBudgetUsd { get; init; }

    public const string PropertyName = "artemis.attribution";

    public static readonly CostAttribution None = new(null, null, null);

    public static CostAttribution From(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(PropertyName, out var value) == true && value is CostAttribution attribution
            ? attribution
            : None;

    public ChatOptions ApplyTo(ChatOptions? options)
    {
        options ??= new ChatOptions();
        options.AdditionalProperties ??= [];
        options.AdditionalProperties[PropertyName] = this;
        return options;
    }

    /// <summary>For a kernel's calls: Semantic Kernel hands its settings' extension data to the chat options.</summary>
    public PromptExecutionSettings ApplyTo(PromptExecutionSettings settings)
    {
        settings.ExtensionData ??= new Dictionary<string, object>();
        settings.ExtensionData[PropertyName] = this;
        return settings;
    }
}
