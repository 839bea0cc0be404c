using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Artemis.ServiceDefaults;
using Polly;

namespace Artemis.Web.AgentsApi;

/// <summary>
/// The Agents API as the web sees it: reached through service discovery (<c>https+http://agents</c>) with the API key.
/// Failures come back as <see cref="AgentsApiException"/> with a message fit to show a person.
/// </summary>
public sealed class AgentsApiClient(HttpClient http)
{
    public Task<HealthResponse> GetHealthAsync(CancellationToken cancellationToken) =>
        GetAsync<HealthResponse>("/api/health", cancellationToken);

    public Task<CostsResponse> GetCostsAsync(CancellationToken cancellationToken) =>
        GetAsync<CostsResponse>("/api/costs", cancellationToken);

    public Task<ConfigReportResponse> GetConfigReportAsync(CancellationToken cancellationToken) =>
        GetAsync<ConfigReportResponse>("/api/config/report", cancellationToken);

    public Task<SupervisorReport> GetSupervisorReportAsync(CancellationToken cancellationToken) =>
        GetAsync<SupervisorReport>("/api/supervisor/report", cancellationToken);

    /// <summary>Cards, newest first; <paramref name="stage"/> keeps one stage.</summary>
    public Task<IReadOnlyList<Card>> ListCardsAsync(CardStage? stage, int limit, CancellationToken cancellationToken) =>
        GetAsync<IReadOnlyList<Card>>(
            stage is null ? $"/api/cards?limit={limit}" : $"/api/cards?stage={stage}&limit={limit}", cancellationToken);

    /// <summary>The card with its attempts and its latest events, or null when there is no such card.</summary>
    public async Task<CardDetails?> GetCardAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            return await GetAsync<CardDetails>($"/api/cards/{Uri.EscapeDataString(id)}", cancellationToken);
        }
        catch (AgentsApiException exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Queues a card; a request the service refuses comes back as its problems per field, not as an exception.</summary>
    public async Task<CreateCardResult> CreateCardAsync(CreateCardRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => http.PostAsJsonAsync("/api/cards", request, cancellationToken));
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            var problem = await ReadProblemAsync(response, cancellationToken);
            if (problem.Errors is { Count: > 0 } errors)
            {
                return new CreateCardResult(null, errors);
            }

            throw new AgentsApiException($"The Agents service refused the card: {problem.Text}", HttpStatusCode.BadRequest);
        }

        var card = await ReadAsync<Card>(response, "/api/cards", cancellationToken);
        return new CreateCardResult(card, new Dictionary<string, string[]>());
    }

    /// <summary>Cancels a card that has not finished; a finished one is an <see cref="AgentsApiException"/> with 409.</summary>
    public async Task<Card> CancelCardAsync(string id, CancellationToken cancellationToken)
    {
        var path = $"/api/cards/{Uri.EscapeDataString(id)}/cancel";
        using var response = await SendAsync(() => http.PostAsync(path, content: null, cancellationToken));
        return await ReadAsync<Card>(response, path, cancellationToken);
    }

    /// <summary>A single-use ticket for the voice WebSocket (<c>/api/voice?ticket=…</c>): the browser never holds the key.</summary>
    public async Task<VoiceTicket> IssueVoiceTicketAsync(CancellationToken cancellationToken)
    {
        const string path = "/api/voice/tickets";
        using var response = await SendAsync(() => http.PostAsync(path, content: null, cancellationToken));
        return await ReadAsync<VoiceTicket>(response, path, cancellationToken);
    }

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => http.GetAsync(path, cancellationToken));
        return await ReadAsync<T>(response, path, cancellationToken);
    }

    private static async Task<HttpResponseMessage> SendAsync(Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send();
        }
        catch (HttpRequestException exception)
        {
            throw new AgentsApiException($"The Agents service cannot be reached: {exception.Message}", inner: exception);
        }
        catch (ExecutionRejectedException exception)
        {
            // The resilience handler gave up: a timeout, or the circuit breaker is open after repeated failures.
            throw new AgentsApiException($"The Agents service is not answering: {exception.Message}", inner: exception);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ReadProblemAsync(response, cancellationToken);
            throw new AgentsApiException($"The Agents service answered {(int)response.StatusCode}: {problem.Text}", response.StatusCode);
        }

        try
        {
            return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
                ?? throw new AgentsApiException($"The Agents service sent an empty answer to {path}.");
        }
        catch (JsonException exception)
        {
            throw new AgentsApiException($"The Agents service sent an answer to {path} the web cannot read: {exception.Message}", inner: exception);
        }
    }

    internal static async Task<(string Text, IReadOnlyDictionary<string, string[]>? Errors)> ReadProblemAsync(
        HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<ProblemResponse>(cancellationToken);
            return (problem?.Detail ?? problem?.Title ?? response.ReasonPhrase ?? "no details", problem?.Errors);
        }
        catch (JsonException)
        {
            return (response.ReasonPhrase ?? "no details", null);
        }
    }

    private sealed record ProblemResponse(string? Title, string? Detail, Dictionary<string, string[]>? Errors);
}

/// <summary>A failed call to the Agents API, with a message fit to show a person and the status when there was one.</summary>
public sealed class AgentsApiException(string message, HttpStatusCode? statusCode = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? StatusCode { get; } = statusCode;
}

public sealed record HealthResponse(string Status, IReadOnlyList<HealthCheckResponse> Checks);

public sealed record HealthCheckResponse(string Name, string Status, string? Description, double DurationMs);

public sealed record CostsResponse(
    long Calls,
    decimal TotalUsd,
    IReadOnlyList<CostBreakdown> ByModel,
    IReadOnlyList<CostBreakdown> ByCard,
    IReadOnlyList<CostBreakdown> ByStage,
    IReadOnlyList<CostBreakdown> ByAgent,
    IReadOnlyList<CostBreakdown> ByDay,
    IReadOnlyList<BudgetState> Budgets,
    IReadOnlyList<BudgetAlert> Alerts);

public sealed record CostBreakdown(string Key, long Calls, decimal Usd, long InputTokens, long OutputTokens);

public sealed record BudgetState(string Window, decimal LimitUsd, decimal SpentUsd, decimal ReservedUsd);

public sealed record BudgetAlert(DateTimeOffset OccurredAt, string Window, decimal LimitUsd, decimal SpentUsd, double Threshold);

public sealed record VoiceTicket(string Ticket, int ExpiresInSeconds, string Url);

public sealed record ConfigReportResponse(bool Valid, IReadOnlyList<ConfigIssue> Errors, IReadOnlyList<ConfigIssue> Warnings);

public sealed record ConfigIssue(string Key, string Message);

public static class AgentsApiExtensions
{
    public static IHostApplicationBuilder AddAgentsApiClient(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpClient<AgentsApiClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.Agents}");
            var key = builder.Configuration[ResourceNames.ApiKeyConfigKey];
            if (!string.IsNullOrEmpty(key))
            {
                client.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, key);
            }
        });

        // Event streams stay open for as long as a page watches: the standard resilience handler's total and
        // per-attempt timeouts (30 s, 10 s) would cut them, and its retries would replay a stream. The streams
        // reconnect by themselves with Last-Event-ID and notice a silent connection by the missing heartbeats.
        // RemoveAllResilienceHandlers is the documented opt-out of ConfigureHttpClientDefaults, marked experimental.
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient<CardEventStreams>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.Agents}");
            client.Timeout = CardEventStreams.ConnectTimeout; // until the headers only: the body is read after
            var key = builder.Configuration[ResourceNames.ApiKeyConfigKey];
            if (!string.IsNullOrEmpty(key))
            {
                client.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, key);
            }
        }).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        builder.Services.AddSingleton<LiveEvents>();
        return builder;
    }
}
