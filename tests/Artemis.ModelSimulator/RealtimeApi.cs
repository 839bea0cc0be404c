using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Artemis.ModelSimulator;

/// <summary>
/// <c>GET /v1/realtime?model=…</c>: OpenAI's Realtime API, GA protocol, over a WebSocket. README.md (Realtime)
/// describes what it answers; <see cref="RealtimeSession"/> is one connection.
/// </summary>
public static class RealtimeApi
{
    public const string Path = "/v1/realtime";

    /// <summary>The largest client event accepted; OpenAI's limit is 15 MiB of JSON.</summary>
    public const int MaxMessageBytes = 15 * 1024 * 1024;

    public static IServiceCollection AddRealtime(this IServiceCollection services)
    {
        services.AddSingleton<SimulatorApiKey>();
        services.AddSingleton<RealtimeEndpoint>();
        return services;
    }

    public static IEndpointRouteBuilder MapRealtime(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (HttpContext context, RealtimeEndpoint endpoint, CancellationToken cancellationToken) =>
            endpoint.AcceptAsync(context, cancellationToken));
        return app;
    }
}

/// <summary>The <c>Authorization: Bearer &lt;key&gt;</c> check the OpenAI endpoints share; no key configured = open.</summary>
public sealed class SimulatorApiKey(IOptions<SimulatorOptions> options)
{
    private readonly byte[]? _key = string.IsNullOrEmpty(options.Value.ApiKey) ? null : Encoding.UTF8.GetBytes(options.Value.ApiKey);

    public bool IsAuthorized(HttpRequest request)
    {
        if (_key is null)
        {
            return true;
        }

        const string Scheme = "Bearer ";
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim()), _key);
    }
}

public sealed class RealtimeEndpoint(
    ScriptEngine engine, RequestLog log, SimulatorApiKey apiKey, TimeProvider time, ILogger<RealtimeEndpoint> logger)
{
    private long _sessions;

    public async Task AcceptAsync(HttpContext context, CancellationToken cancellationToken)
    {
        // Refused before the upgrade, with an HTTP status and OpenAI's error body, as the real service does.
        if (!apiKey.IsAuthorized(context.Request))
        {
            SimulatorLog.Unauthorized(logger, context.Request.Method, context.Request.Path);
            await ChatCompletionsEndpoint.WriteErrorAsync(context.Response, StatusCodes.Status401Unauthorized,
                "Incorrect API key provided. Send the key configured as Simulator:ApiKey in the header 'Authorization: Bearer <key>'.",
                "invalid_request_error", null, "invalid_api_key", cancellationToken);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ChatCompletionsEndpoint.WriteErrorAsync(context.Response, StatusCodes.Status400BadRequest,
                "The realtime endpoint speaks WebSocket only: send an upgrade request.", "invalid_request_error", null, null, cancellationToken);
            return;
        }

        var model = context.Request.Query["model"].ToString();
        if (string.IsNullOrEmpty(model))
        {
            await ChatCompletionsEndpoint.WriteErrorAsync(context.Response, StatusCodes.Status400BadRequest,
                "Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter", cancellationToken);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var id = "sess_sim" + Interlocked.Increment(ref _sessions).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
        SimulatorLog.RealtimeSessionStarted(logger, id, model);
        using var session = new RealtimeSession(id, model, socket, engine, log, time, logger);
        await session.RunAsync(cancellationToken);
        SimulatorLog.RealtimeSessionEnded(logger, id);
    }
}
