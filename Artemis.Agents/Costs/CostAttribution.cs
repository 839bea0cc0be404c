using Microsoft.Extensions.AI;

namespace Artemis.Agents.Costs;

/// <summary>
/// Who a model call is for, carried in <see cref="ChatOptions.AdditionalProperties"/> so that it travels with each
/// request through function invocation: card, stage and agent. The CostFilter removes it before the request is sent.
/// </summary>
public sealed record CostAttribution(string? CardId, string? Stage, string? Agent)
{
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
}
