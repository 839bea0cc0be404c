using System.Security.Cryptography;
using System.Text;
using Artemis.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Api;

/// <summary>
/// Everything under <c>/api</c> needs the <c>X-Api-Key</c> header; the health endpoints stay open for the
/// orchestrator's probes. Keys are compared in constant time.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IOptions<ApiOptions> options, ILogger<ApiKeyMiddleware> logger)
{
    private readonly byte[] _expected = Encoding.UTF8.GetBytes(options.Value.Key);

    public async Task InvokeAsync(HttpContext context, IProblemDetailsService problemDetails)
    {
        if (!context.Request.Path.StartsWithSegments(ApiExtensions.ApiPrefix) || IsAuthorized(context.Request))
        {
            await next(context);
            return;
        }

        ApiLog.RejectedRequest(logger, context.Request.Method, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        var problem = new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Missing or wrong API key",
                Detail = $"Send the key of the '{ResourceNames.AgentsApiKey}' parameter in the {ResourceNames.ApiKeyHeader} header.",
            },
        };

        // A client that accepts only text/event-stream (a browser's EventSource) gets the problem as JSON anyway,
        // rather than a 500 from a problem writer that found no matching media type.
        if (!await problemDetails.TryWriteAsync(problem))
        {
            await TypedResults.Problem(problem.ProblemDetails).ExecuteAsync(context);
        }
    }

    private bool IsAuthorized(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(ResourceNames.ApiKeyHeader, out var values) || values.Count != 1)
        {
            return false;
        }

        var presented = Encoding.UTF8.GetBytes(values[0] ?? "");
        return CryptographicOperations.FixedTimeEquals(presented, _expected);
    }
}
