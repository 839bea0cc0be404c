using System.Runtime.CompilerServices;
using Artemis.Agents.Models;
using Microsoft.Extensions.AI;

namespace Artemis.Agents.Costs;

/// <summary>
/// Prices every model request that reaches the model, in the chat pipeline beneath function invocation so each
/// round trip of a tool-calling conversation, and every streaming call, is one priced call. Before sending it bounds
/// the call (an unpriced model is refused; a missing output limit gets the configured one) and computes its worst
/// case; after the answer it prices the usage the model reported exactly and writes it to the ledger. A call whose
/// usage is missing or malformed is charged its worst case and logged as an error: no call goes unpriced. HTTP
/// retries happen below this filter, so a retried request is priced once. Budgets: the worst case is admitted in
/// every budget of the call before it is sent, against this replica's budget leases (<see cref="BudgetLeases"/>,
/// reserved in Redis; refused with <see cref="BudgetExceededException"/> if any budget could be exceeded), settled to
/// the actual cost after, released if nothing was billed.
/// </summary>
public sealed class CostFilter(
    IChatClient inner,
    ModelOptions model,
    PriceCatalog catalog,
    TokenEstimator estimator,
    BudgetLeases budgets,
    BudgetWindows windows,
    TimeProvider time,
    ILogger<CostFilter> logger) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = await BeginAsync(messages, options);
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(call.Messages, call.Options, cancellationToken);
        }
        catch
        {
            // Refused or failed before an answer: nothing was billed, so nothing stays reserved.
            budgets.Release(call.Admission);
            throw;
        }

        Settle(call, response.Usage);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var call = await BeginAsync(messages, options);
        UsageDetails? usage = null;
        var answered = false;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(call.Messages, call.Options, cancellationToken))
            {
                answered = true;
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent usageContent)
                    {
                        usage = usageContent.Details;
                    }
                }

                yield return update;
            }
        }
        finally
        {
            // A request refused before any answer (an HTTP error) is not billed; one the model began answering is.
            if (answered)
            {
                Settle(call, usage);
            }
            else
            {
                budgets.Release(call.Admission);
            }
        }
    }

    private async Task<PendingCall> BeginAsync(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var list = messages as IList<ChatMessage> ?? messages.ToList();
        var attribution = CostAttribution.From(options);
        var bounded = options?.Clone() ?? new ChatOptions();
        bounded.AdditionalProperties?.Remove(CostAttribution.PropertyName);
        bounded.MaxOutputTokens ??= model.MaxOutputTokens;
        var modelId = bounded.ModelId ?? model.Name ?? throw new InvalidOperationException("no model is configured");
        var price = catalog.GetPrice(modelId);
        var worstCase = CallCost.WorstCase(modelId, price, estimator.CountPromptTokens(list, bounded), bounded.MaxOutputTokens.Value);
        var now = time.GetUtcNow();

        // Throws BudgetExceededException, before anything is sent, if any budget could be exceeded.
        var admission = await budgets.AdmitAsync(windows.For(now, attribution.CardId, attribution.CardBudgetUsd), worstCase.Usd);
        return new PendingCall(Guid.NewGuid().ToString("N"), now, modelId, price, attribution, worstCase, admission, list, bounded);
    }

    private void Settle(PendingCall call, UsageDetails? usage)
    {
        CallCost cost;
        var estimated = false;
        try
        {
            cost = usage is null
                ? throw new InvalidUsageException("the model reported no usage")
                : CallCost.Price(call.Model, call.Price, usage);
            CostsLog.Priced(logger, call.Id, call.Model, cost.InputTokens, cost.CachedInputTokens, cost.OutputTokens, cost.Usd);
        }
        catch (InvalidUsageException exception)
        {
            cost = call.WorstCase;
            estimated = true;
            CostsLog.ChargedWorstCase(logger, call.Id, call.Model, exception.Message, cost.Usd);
        }

        budgets.Settle(call.Admission, LedgerEntry.For(call.Id, call.StartedAt, cost, call.Attribution, estimated));
    }

    private sealed record PendingCall(
        string Id, DateTimeOffset StartedAt, string Model, ModelPrice Price, CostAttribution Attribution, CallCost WorstCase, BudgetAdmission Admission,
        IList<ChatMessage> Messages, ChatOptions Options);
}
