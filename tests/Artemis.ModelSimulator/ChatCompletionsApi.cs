using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Artemis.ModelSimulator;

/// <summary>The OpenAI-compatible endpoints: <c>POST /v1/chat/completions</c> and <c>GET /v1/models</c>.</summary>
public static class ChatCompletionsApi
{
    public const string ChatCompletionsPath = "/v1/chat/completions";
    public const string ModelsPath = "/v1/models";

    public static IServiceCollection AddChatCompletions(this IServiceCollection services)
    {
        services.AddSingleton<ChatCompletionsEndpoint>();
        return services;
    }

    public static IEndpointRouteBuilder MapChatCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost(ChatCompletionsPath, (HttpContext context, ChatCompletionsEndpoint endpoint, CancellationToken cancellationToken) =>
            endpoint.CompleteAsync(context, cancellationToken));
        app.MapGet(ModelsPath, (HttpContext context, ChatCompletionsEndpoint endpoint, CancellationToken cancellationToken) =>
            endpoint.ListModelsAsync(context, cancellationToken));
        return app;
    }
}

public sealed class ChatCompletionsEndpoint(
    ScriptEngine engine,
    RequestLog log,
    IOptions<SimulatorOptions> options,
    TimeProvider time,
    ILogger<ChatCompletionsEndpoint> logger)
{
    /// <summary>Characters of content or arguments per streamed delta.</summary>
    public const int StreamPieceLength = 8;

    private const string SystemFingerprint = "fp_artemis_sim";

    /// <summary>Models are listed with a fixed creation time: the simulator's answers are deterministic.</summary>
    private const long ModelCreated = 1_700_000_000;

    private readonly byte[]? _apiKey = string.IsNullOrEmpty(options.Value.ApiKey) ? null : Encoding.UTF8.GetBytes(options.Value.ApiKey);

    public async Task CompleteAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var sequence = log.Begin(context.Request.Path);
        try
        {
            await CompleteAsync(context, sequence, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.Cancel(sequence);
            SimulatorLog.ClientCancelled(logger, sequence);
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
            log.Cancel(sequence);
            SimulatorLog.ClientCancelled(logger, sequence);
        }
    }

    public async Task ListModelsAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (!IsAuthorized(context.Request))
        {
            await RejectAsync(context, cancellationToken);
            return;
        }

        var models = engine.Models.Select(id => new ModelInfo(id, "model", ModelCreated, "artemis-simulator")).ToList();
        await WriteJsonAsync(context.Response, StatusCodes.Status200OK, new ModelList("list", models), cancellationToken);
    }

    private async Task CompleteAsync(HttpContext context, long sequence, CancellationToken cancellationToken)
    {
        if (!IsAuthorized(context.Request))
        {
            log.Complete(sequence, StatusCodes.Status401Unauthorized);
            await RejectAsync(context, cancellationToken);
            return;
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, cancellationToken);
        }
        catch (JsonException exception)
        {
            await BadRequestAsync(context, sequence,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                + "HTTP library correctly. The OpenAI API expects a JSON payload.) " + exception.Message,
                null, cancellationToken);
            return;
        }

        using (document)
        {
            if (!ChatRequest.TryRead(document.RootElement, out var request, out var partial, out var error, out var param))
            {
                log.Describe(sequence, partial.Model, partial.Stream, partial.IncludeUsage, partial.Messages, partial.Tools);
                await BadRequestAsync(context, sequence, error!, param, cancellationToken);
                return;
            }

            log.Describe(sequence, request!.Model, request.Stream, request.IncludeUsage, request.MessagesJson, request.ToolNames);
            await AnswerAsync(context, sequence, request, cancellationToken);
        }
    }

    private async Task AnswerAsync(HttpContext context, long sequence, ChatRequest request, CancellationToken cancellationToken)
    {
        var decision = engine.Decide(request);
        if (decision.NoMatch is { } noMatch)
        {
            await BadRequestAsync(context, sequence, noMatch, "messages", cancellationToken);
            return;
        }

        if (decision.Fault is { } fault)
        {
            SimulatorLog.FaultInjected(logger, sequence, fault.Kind, decision.Step);
            if (fault.Kind == FaultKinds.Drop)
            {
                log.Complete(sequence, null, FaultKinds.Drop, step: decision.Step);
                context.Abort();
                return;
            }

            await WriteStatusFaultAsync(context, sequence, fault, decision.Step, cancellationToken);
            return;
        }

        var modifier = decision.Modifier;
        if (modifier is not null)
        {
            SimulatorLog.FaultInjected(logger, sequence, modifier.Kind, decision.Step);
            // Logged now, so that a request cancelled while it waits still shows its fault.
            log.Complete(sequence, null, modifier.Kind, step: decision.Step);
            if (modifier.Kind == FaultKinds.Slow)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(modifier.DelayMs ?? 0), time, cancellationToken);
            }
        }

        var reply = ReplyPlanner.Plan(request, decision.Reply!, modifier, engine);
        var model = request.Model ?? engine.Models[0];
        var id = "chatcmpl-sim" + sequence.ToString("D6", CultureInfo.InvariantCulture);
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        SimulatorLog.Answered(logger, sequence, decision.Step);

        if (request.Stream)
        {
            var chunks = StreamChunks(id, created, model, reply, request.IncludeUsage);
            log.Complete(sequence, StatusCodes.Status200OK, modifier?.Kind, request.IncludeUsage ? reply.Usage : null, decision.Step);
            await StreamAsync(context.Response, chunks, reply.Delay, cancellationToken);
            return;
        }

        await Task.Delay(reply.Delay, time, cancellationToken);
        var toolCalls = reply.ToolCalls.Count == 0
            ? null
            : reply.ToolCalls.Select(call => new WireToolCall(null, call.Id, "function", new WireFunction(call.Name, call.Arguments))).ToList();
        var response = new ChatCompletionResponse(id, "chat.completion", created, model, SystemFingerprint,
            [new ChatChoice(0, new WireMessage("assistant", reply.Content, null, toolCalls), null, reply.FinishReason)],
            reply.Usage);
        log.Complete(sequence, StatusCodes.Status200OK, modifier?.Kind, reply.Usage, decision.Step);
        await WriteJsonAsync(context.Response, StatusCodes.Status200OK, response, cancellationToken);
    }

    /// <summary>
    /// The chunks of a streamed reply: the role, the content in pieces, each tool call (index, id, type and name
    /// first, then its arguments in pieces), the finish reason and, when asked for, the usage with no choices.
    /// </summary>
    private static List<ChatCompletionChunk> StreamChunks(string id, long created, string model, PlannedReply reply, bool includeUsage)
    {
        var chunks = new List<ChatCompletionChunk>();
        void Add(WireDelta delta, string? finishReason = null) =>
            chunks.Add(new ChatCompletionChunk(id, "chat.completion.chunk", created, model, SystemFingerprint,
                [new ChunkChoice(0, delta, null, finishReason)], null));

        Add(new WireDelta("assistant", reply.Content is null ? null : "", null));
        foreach (var piece in Pieces(reply.Content ?? ""))
        {
            Add(new WireDelta(null, piece, null));
        }

        for (var index = 0; index < reply.ToolCalls.Count; index++)
        {
            var call = reply.ToolCalls[index];
            Add(new WireDelta(null, null, [new WireToolCall(index, call.Id, "function", new WireFunction(call.Name, ""))]));
            foreach (var piece in Pieces(call.Arguments))
            {
                Add(new WireDelta(null, null, [new WireToolCall(index, null, null, new WireFunction(null, piece))]));
            }
        }

        Add(new WireDelta(null, null, null), reply.FinishReason);
        if (includeUsage)
        {
            chunks.Add(new ChatCompletionChunk(id, "chat.completion.chunk", created, model, SystemFingerprint, [], reply.Usage));
        }

        return chunks;
    }

    private async Task StreamAsync(HttpResponse response, List<ChatCompletionChunk> chunks, TimeSpan delay, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // The reply's delay is spread over the gaps between events (the chunks and [DONE]).
        var gap = delay / chunks.Count;
        for (var i = 0; i < chunks.Count; i++)
        {
            if (i > 0 && gap > TimeSpan.Zero)
            {
                await Task.Delay(gap, time, cancellationToken);
            }

            await WriteEventAsync(response, JsonSerializer.Serialize(chunks[i], WireJson.Options), cancellationToken);
        }

        if (gap > TimeSpan.Zero)
        {
            await Task.Delay(gap, time, cancellationToken);
        }

        await WriteEventAsync(response, "[DONE]", cancellationToken);
    }

    private static async Task WriteEventAsync(HttpResponse response, string data, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: " + data + "\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Splits text into pieces of <see cref="StreamPieceLength"/> characters, never inside a surrogate pair.</summary>
    private static IEnumerable<string> Pieces(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var length = Math.Min(StreamPieceLength, text.Length - start);
            if (start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
            {
                length++;
            }

            yield return text.Substring(start, length);
            start += length;
        }
    }

    private async Task WriteStatusFaultAsync(HttpContext context, long sequence, StepFault fault, string? step, CancellationToken cancellationToken)
    {
        var status = fault.Status!.Value;
        var (type, code, message) = status switch
        {
            StatusCodes.Status429TooManyRequests => ("requests", "rate_limit_exceeded",
                "Rate limit reached for requests (simulated by the Artemis model simulator)."),
            StatusCodes.Status401Unauthorized => ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
            >= 500 => ("server_error", (string?)null,
                "The server had an error while processing your request. Sorry about that! (simulated)"),
            _ => ("invalid_request_error", null, "The request was refused (simulated by the Artemis model simulator)."),
        };

        if (fault.RetryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        }

        log.Complete(sequence, status, FaultKinds.Status, step: step);
        await WriteErrorAsync(context.Response, status, fault.Message ?? message, type, null, code, cancellationToken);
    }

    private async Task BadRequestAsync(HttpContext context, long sequence, string message, string? param, CancellationToken cancellationToken)
    {
        SimulatorLog.BadRequest(logger, sequence, message);
        log.Complete(sequence, StatusCodes.Status400BadRequest);
        await WriteErrorAsync(context.Response, StatusCodes.Status400BadRequest, message, "invalid_request_error", param, null, cancellationToken);
    }

    private Task RejectAsync(HttpContext context, CancellationToken cancellationToken)
    {
        SimulatorLog.Unauthorized(logger, context.Request.Method, context.Request.Path);
        return WriteErrorAsync(context.Response, StatusCodes.Status401Unauthorized,
            "Incorrect API key provided. Send the key configured as Simulator:ApiKey in the header 'Authorization: Bearer <key>'.",
            "invalid_request_error", null, "invalid_api_key", cancellationToken);
    }

    private bool IsAuthorized(HttpRequest request)
    {
        if (_apiKey is null)
        {
            return true;
        }

        const string Scheme = "Bearer ";
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presented = Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(presented, _apiKey);
    }

    public static Task WriteErrorAsync(HttpResponse response, int status, string message, string type, string? param, string? code,
        CancellationToken cancellationToken) =>
        WriteJsonAsync(response, status, new ErrorResponse(new ErrorBody(message, type, param, code)), cancellationToken);

    private static async Task WriteJsonAsync<T>(HttpResponse response, int status, T value, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(response.Body, value, WireJson.Options, cancellationToken);
    }
}
