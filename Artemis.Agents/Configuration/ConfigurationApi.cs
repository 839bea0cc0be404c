using Artemis.Agents.Api;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Artemis.Agents.Configuration;

/// <summary><c>GET /api/config/report</c>: the same report the service checked at start, made now.</summary>
public static class ConfigurationApi
{
    public static IEndpointRouteBuilder MapConfigurationApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(ApiExtensions.ApiPrefix + "/config")
            .MapGet("/report", GetReportAsync)
            .WithName("GetConfigReport")
            .WithSummary("Every configuration problem, by key; secrets are never shown");
        return app;
    }

    public static async Task<Ok<ConfigurationReportResponse>> GetReportAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        var report = await ConfigurationProbes.ProbeAsync(
            configuration, ConfigurationValidator.Validate(configuration), ConfigurationProbes.DefaultTimeout, cancellationToken);
        return TypedResults.Ok(new ConfigurationReportResponse(report.IsValid, report.Errors, report.Warnings));
    }
}

public sealed record ConfigurationReportResponse(bool Valid, IReadOnlyList<ConfigurationIssue> Errors, IReadOnlyList<ConfigurationIssue> Warnings);
