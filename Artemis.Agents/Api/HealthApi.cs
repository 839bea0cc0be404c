using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Artemis.Agents.Api;

/// <summary><c>GET /api/health</c>: every health check of this service (Postgres, Redis, schema), for the web UI.</summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(ApiExtensions.ApiPrefix)
            .MapGet("/health", GetHealthAsync)
            .WithName("GetHealth")
            .WithSummary("The health of the Agents service and of what it depends on");
        return app;
    }

    public static async Task<Ok<HealthResponse>> GetHealthAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var checks = report.Entries
            .Select(entry => new HealthCheckResponse(
                entry.Key,
                entry.Value.Status.ToString(),
                entry.Value.Description ?? entry.Value.Exception?.Message,
                Math.Round(entry.Value.Duration.TotalMilliseconds, 1)))
            .OrderBy(check => check.Name, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(new HealthResponse(report.Status.ToString(), checks));
    }
}

public sealed record HealthResponse(string Status, IReadOnlyList<HealthCheckResponse> Checks);

public sealed record HealthCheckResponse(string Name, string Status, string? Description, double DurationMs);
