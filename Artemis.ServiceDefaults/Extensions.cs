using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Adds the services every Artemis service shares: OpenTelemetry (exported to the Aspire dashboard over OTLP),
/// service discovery, standard resilience on HttpClients and the health endpoints.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Health checks with this tag take part in the liveness probe (<c>/alive</c>).</summary>
    public const string LiveTag = "live";

    /// <summary>Our own telemetry: every ActivitySource and Meter is named <c>Artemis.*</c>.</summary>
    public const string ArtemisTelemetryPrefix = "Artemis.*";

    private const string OtlpTimeoutKey = "OTEL_EXPORTER_OTLP_TIMEOUT";
    private const string LoopbackOtlpTimeoutMilliseconds = "2000";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddHostedService<ParentProcessWatcher>();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(ArtemisTelemetryPrefix, "Microsoft.SemanticKernel*", "Microsoft.Extensions.AI*"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(ArtemisTelemetryPrefix, "Microsoft.SemanticKernel*", "Microsoft.Extensions.AI*")
                .AddAspNetCoreInstrumentation(options =>
                    // Probes run every few seconds: tracing them would drown the requests that matter.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        // The AppHost sets OTEL_EXPORTER_OTLP_ENDPOINT to the dashboard; outside Aspire nothing is exported.
        var endpoint = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            // A collector on loopback (the dashboard) answers in milliseconds. The 10 s default export timeout only
            // matters when it is gone — the AppHost died first — and then it holds shutdown hostage for 10 s (ADR-003).
            if (builder.Configuration[OtlpTimeoutKey] is null
                && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.IsLoopback)
            {
                builder.Configuration.AddInMemoryCollection([new(OtlpTimeoutKey, LoopbackOtlpTimeoutMilliseconds)]);
            }

            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>Maps <c>/health</c> (ready: every check) and <c>/alive</c> (live: checks tagged "live").</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(LiveTag),
        });
        return app;
    }
}
