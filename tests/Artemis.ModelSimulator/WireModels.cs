using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Artemis.ModelSimulator;

/// <summary>
/// The OpenAI wire format the simulator answers with: snake_case names, absent rather than null fields except where
/// OpenAI itself sends an explicit null (message content with tool calls, finish_reason of a chunk, an error's param
/// and code).
/// </summary>
public static class WireJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Not HTML: quotes and apostrophes as OpenAI sends them (\" and ', not \u0022 and \u0027).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

public sealed record ChatCompletionResponse(
    string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    long Created,
    string Model,
    string SystemFingerprint,
    IReadOnlyList<ChatChoice> Choices,
    WireUsage? Usage);

public sealed record ChatChoice(
    int Index,
    WireMessage Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonElement? Logprobs,
    string FinishReason);

public sealed record WireMessage(
    string Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Refusal,
    IReadOnlyList<WireToolCall>? ToolCalls);

public sealed record WireToolCall(int? Index, string? Id, string? Type, WireFunction Function);

public sealed record WireFunction(string? Name, string? Arguments);

public sealed record ChatCompletionChunk(
    string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    long Created,
    string Model,
    string SystemFingerprint,
    IReadOnlyList<ChunkChoice> Choices,
    WireUsage? Usage);

public sealed record ChunkChoice(
    int Index,
    WireDelta Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonElement? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record WireDelta(string? Role, string? Content, IReadOnlyList<WireToolCall>? ToolCalls);

/// <summary>Token counts. Nullable so that a deliberately malformed block can leave a count out.</summary>
public sealed record WireUsage(
    int? PromptTokens,
    int? CompletionTokens,
    int? TotalTokens,
    PromptTokensDetails? PromptTokensDetails,
    CompletionTokensDetails? CompletionTokensDetails);

public sealed record PromptTokensDetails(int CachedTokens, int AudioTokens);

public sealed record CompletionTokensDetails(
    int ReasoningTokens,
    int AudioTokens,
    int AcceptedPredictionTokens,
    int RejectedPredictionTokens);

public sealed record ModelList([property: JsonPropertyName("object")] string ObjectType, IReadOnlyList<ModelInfo> Data);

public sealed record ModelInfo(string Id, [property: JsonPropertyName("object")] string ObjectType, long Created, string OwnedBy);

public sealed record ErrorResponse(ErrorBody Error);

public sealed record ErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);
