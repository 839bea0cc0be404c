using System.Net.Http.Json;
using System.Text.Json;
using Artemis.ServiceDefaults;

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

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync(path, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            throw new AgentsApiException($"The Agents service cannot be reached: {exception.Message}", exception);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var problem = await ReadProblemAsync(response, cancellationToken);
                throw new AgentsApiException($"The Agents service answered {(int)response.StatusCode}: {problem}");
            }

            return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
                ?? throw new AgentsApiException($"The Agents service sent an empty answer to {path}.");
        }
    }

    private static async Task<string> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<ProblemResponse>(cancellationToken);
            return problem?.Detail ?? problem?.Title ?? response.ReasonPhrase ?? "no details";
        }
        catch (JsonException)
        {
            return response.ReasonPhrase ?? "no details";
        }
    }

    private sealed record ProblemResponse(string? Title, string? Detail);
}

public sealed class AgentsApiException(string message, Exception? inner = null) : Exception(message, inner);

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
        return builder;
    }
}
