// The OpenAI 2.x realtime client is marked experimental (OPENAI002); ADR 008 says why the bridge uses it anyway.
#pragma warning disable OPENAI002

using System.ClientModel;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Artemis.Agents.Api;
using Artemis.Agents.Costs;
using Artemis.Agents.Models;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OpenAI.Realtime;

namespace Artemis.Agents.Voice;

/// <summary>
/// <c>GET /api/voice</c> (WebSocket, the voice bridge) and <c>POST /api/voice/tickets</c>. The WebSocket accepts the
/// <c>X-Api-Key</c> header, as every API does, or a ticket (<c>?ticket=…</c>) for browsers, which cannot set headers
/// on a WebSocket (ADR 008). Tickets are issued behind the API key.
/// </summary>
public static class VoiceApi
{
    public const string Path = ApiExtensions.ApiPrefix + "/voice";

    public static IEndpointRouteBuilder MapVoiceApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(Path)
            .MapPost("/tickets", IssueTicketAsync)
            .WithName("IssueVoiceTicket")
            .WithSummary("A single-use ticket for a browser to open the voice WebSocket: /api/voice?ticket=…");
        return app;
    }

    /// <summary>
    /// The voice WebSocket, ahead of the API key middleware so that a browser's ticket can stand in for the header;
    /// it checks the same key itself. Call before <c>UseApi</c>.
    /// </summary>
    public static WebApplication UseVoice(this WebApplication app)
    {
        app.UseWebSockets();
        app.MapWhen(context => context.Request.Path.Equals(Path, StringComparison.Ordinal) && context.WebSockets.IsWebSocketRequest,
            branch => branch.Run(context => AcceptAsync(context, context.RequestAborted)));
        return app;
    }

    public static async Task<Ok<VoiceTicketResponse>> IssueTicketAsync(VoiceTickets tickets, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ticket = await tickets.IssueAsync();
        return TypedResults.Ok(new VoiceTicketResponse(ticket, (int)tickets.Lifetime.TotalSeconds, $"{Path}?ticket={ticket}"));
    }

    public static async Task AcceptAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var services = context.RequestServices;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(VoiceApi).FullName!);
        if (!await IsAuthorizedAsync(context, services))
        {
            VoiceLog.Unauthorized(logger);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await services.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status401Unauthorized,
                    Title = "Missing or wrong API key or voice ticket",
                    Detail = $"Send the {ResourceNames.ApiKeyHeader} header, or a ticket from POST {Path}/tickets as ?ticket=….",
                },
            });
            return;
        }

        using var browser = await context.WebSockets.AcceptWebSocketAsync();
        var id = "voice_" + Guid.NewGuid().ToString("N")[..12];
        var options = services.GetRequiredService<IOptions<VoiceOptions>>().Value;
        var model = services.GetRequiredService<ModelOptions>();
        if (string.IsNullOrWhiteSpace(model.RealtimeName) || model.Endpoint is null)
        {
            await RefuseAsync(browser, logger, id, WebSocketCloseStatus.InternalServerError,
                "no realtime model is configured (RealtimeModel= in the model connection string)", cancellationToken);
            return;
        }

        ModelPrice price;
        try
        {
            price = services.GetRequiredService<PriceCatalog>().GetPrice(model.RealtimeName);
        }
        catch (UnknownModelException)
        {
            await RefuseAsync(browser, logger, id, WebSocketCloseStatus.InternalServerError, $"the realtime model {model.RealtimeName} has no price", cancellationToken);
            return;
        }

        RealtimeSessionClient upstream;
        try
        {
            var client = new RealtimeClient(new ApiKeyCredential(string.IsNullOrEmpty(model.ApiKey) ? "no-key" : model.ApiKey),
                new RealtimeClientOptions { Endpoint = model.Endpoint });
            upstream = await client.StartConversationSessionAsync(model.RealtimeName, new RealtimeSessionClientOptions(), cancellationToken);
        }
        catch (Exception exception) when (exception is WebSocketException or ClientResultException or IOException or HttpRequestException)
        {
            await RefuseAsync(browser, logger, id, WebSocketCloseStatus.EndpointUnavailable, "the model's realtime endpoint cannot be reached", cancellationToken);
            return;
        }

        var costs = ActivatorUtilities.CreateInstance<VoiceCosts>(services, id, model.RealtimeName, price, options);
        using var session = new VoiceSession(id, browser, upstream, costs, services.GetRequiredService<IVoiceTools>(), options, logger);
        VoiceLog.SessionStarted(logger, id, model.RealtimeName);
        await services.GetRequiredService<VoiceSessions>().RunAsync(session, CancellationToken.None);
    }

    private static async Task<bool> IsAuthorizedAsync(HttpContext context, IServiceProvider services)
    {
        var expected = Encoding.UTF8.GetBytes(services.GetRequiredService<IOptions<ApiOptions>>().Value.Key);
        if (context.Request.Headers.TryGetValue(ResourceNames.ApiKeyHeader, out var values))
        {
            return values.Count == 1 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(values[0] ?? ""), expected);
        }

        return await services.GetRequiredService<VoiceTickets>().RedeemAsync(context.Request.Query["ticket"].ToString());
    }

    /// <summary>Refusals after the upgrade: a browser cannot see an HTTP status, but it can see a close reason.</summary>
    private static async Task RefuseAsync(WebSocket browser, ILogger logger, string id, WebSocketCloseStatus status, string reason, CancellationToken cancellationToken)
    {
        VoiceLog.SessionRefused(logger, id, reason);
        var message = Encoding.UTF8.GetBytes(new JsonObject { ["type"] = "error", ["code"] = "unavailable", ["message"] = reason }.ToJsonString());
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await browser.SendAsync(message, WebSocketMessageType.Text, true, timeout.Token);
            await browser.CloseOutputAsync(status, WebSocketCloseReasons.Truncate(reason), timeout.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
        {
            browser.Abort();
        }
    }
}

public sealed record VoiceTicketResponse(string Ticket, int ExpiresInSeconds, string Url);
