using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Artemis.ServiceDefaults;
using Artemis.Web.AgentsApi;
using Microsoft.Extensions.ServiceDiscovery;

namespace Artemis.Web.Voice;

/// <summary>
/// The Voice page's WebSocket, <c>/voice/ws</c>, relayed to the Agents service's voice bridge. The browser cannot
/// reach the Agents service (it is not external) and must never hold its API key, so the web asks the service for a
/// single-use ticket with the key (<c>POST /api/voice/tickets</c>), opens <c>/api/voice?ticket=…</c> itself, and
/// copies frames both ways unchanged: binary audio, JSON events, fragments, and the close status and reason, so the
/// page shows the bridge's own words when a session ends. The relay's own failures close the page's socket with a
/// reason too; nothing is ever cut without one while the page's side still works.
/// </summary>
public static class VoiceProxy
{
    public const string Path = "/voice/ws";

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapVoiceProxy(this IEndpointRouteBuilder app)
    {
        app.Map(Path, RelayAsync)
            .WithName("VoiceWebSocket")
            .WithSummary("The Voice page's WebSocket, relayed to the Agents service's /api/voice with a ticket the web asks for");
        return app;
    }

    public static async Task RelayAsync(HttpContext context, AgentsApiClient agents, ServiceEndpointResolver resolver, IHostApplicationLifetime lifetime,
        ILogger<VoiceRelay> logger)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("A WebSocket upgrade is expected here: the Voice page opens it.", context.RequestAborted);
            return;
        }

        // A page of another site must not open a voice session with this user's web (cross-site WebSocket hijacking).
        if (!IsSameOrigin(context.Request))
        {
            VoiceProxyLog.ForeignOrigin(logger, context.Request.Headers.Origin.ToString());
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        using var browser = await context.WebSockets.AcceptWebSocketAsync();
        using var relay = new VoiceRelay(browser, logger);

        // The session is refused through the page's own socket: a browser sees a close reason, never an HTTP status.
        VoiceTicket ticket;
        try
        {
            ticket = await agents.IssueVoiceTicketAsync(context.RequestAborted);
        }
        catch (AgentsApiException exception)
        {
            await relay.RefuseAsync("agents_unavailable", exception.Message);
            return;
        }

        var upstream = new ClientWebSocket();
        Uri bridge;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(ConnectTimeout);
            bridge = await BridgeUriAsync(resolver, ticket, timeout.Token);
            await upstream.ConnectAsync(bridge, timeout.Token);
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or InvalidOperationException or HttpRequestException)
        {
            upstream.Dispose();
            await relay.RefuseAsync("bridge_unavailable", $"The voice bridge of the Agents service cannot be reached: {exception.Message}");
            return;
        }

        using (upstream)
        using (lifetime.ApplicationStopping.Register(() => _ = relay.CloseBrowserAsync(WebSocketCloseStatus.EndpointUnavailable, "the web is shutting down")))
        {
            VoiceProxyLog.Relaying(logger, bridge.Authority);
            await relay.RunAsync(upstream);
        }
    }

    private static bool IsSameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        return origin.Length == 0
            || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The bridge's address on one replica of the Agents service, as service discovery knows it.</summary>
    private static async Task<Uri> BridgeUriAsync(ServiceEndpointResolver resolver, VoiceTicket ticket, CancellationToken cancellationToken)
    {
        var source = await resolver.GetEndpointsAsync($"https+http://{ResourceNames.Agents}", cancellationToken);
        if (source.Endpoints.Count == 0)
        {
            throw new InvalidOperationException($"service discovery knows no endpoint of '{ResourceNames.Agents}'");
        }

        // Tickets live in Redis, so any replica redeems one.
        var endpoint = source.Endpoints[Random.Shared.Next(source.Endpoints.Count)].EndPoint;
        var service = endpoint switch
        {
            UriEndPoint uri => uri.Uri,
            DnsEndPoint dns => new Uri($"http://{dns.Host}:{dns.Port}"),
            IPEndPoint ip => new Uri($"http://{ip}"),
            _ => throw new InvalidOperationException($"the endpoint '{endpoint}' of '{ResourceNames.Agents}' is not an address"),
        };
        var scheme = service.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        return new Uri(new UriBuilder(service) { Scheme = scheme }.Uri, ticket.Url);
    }
}

/// <summary>
/// One page's socket and one bridge's socket, copied into each other. Each socket has one sender at a time (its send
/// gate): the pump that writes to it, and a close from elsewhere (a refusal, the web shutting down).
/// </summary>
public sealed class VoiceRelay(WebSocket browser, ILogger logger) : IDisposable
{
    private const int BufferBytes = 16 * 1024;
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _browserGate = new(1, 1);
    private readonly SemaphoreSlim _upstreamGate = new(1, 1);

    /// <summary>Tells the page why there is no session (an <c>error</c> event, then the close reason) and closes.</summary>
    public async Task RefuseAsync(string code, string message)
    {
        VoiceProxyLog.Refused(logger, code, message);
        var error = new JsonObject { ["type"] = "error", ["code"] = code, ["message"] = message }.ToJsonString();
        await SendAsync(browser, _browserGate, Encoding.UTF8.GetBytes(error), WebSocketMessageType.Text, endOfMessage: true);
        await CloseAsync(browser, _browserGate, WebSocketCloseStatus.InternalServerError, message);
        // Wait for the page's answer to the close, so that the close handshake completes before the request ends.
        await DrainAsync(browser);
    }

    public Task CloseBrowserAsync(WebSocketCloseStatus status, string reason) => CloseAsync(browser, _browserGate, status, reason);

    /// <summary>Copies both ways until both sides have closed (or one is gone and the other was told).</summary>
    public async Task RunAsync(WebSocket upstream)
    {
        var up = PumpAsync(browser, upstream, _upstreamGate, "the page");
        var down = PumpAsync(upstream, browser, _browserGate, "the Agents service");
        var first = await Task.WhenAny(up, down);
        var other = first == up ? down : up;
        if (await Task.WhenAny(other, Task.Delay(CloseTimeout)) != other)
        {
            // The other side never answered the close it was sent: nothing more will come from it.
            browser.Abort();
            upstream.Abort();
            await other;
        }

        VoiceProxyLog.Ended(logger, (int?)upstream.CloseStatus, upstream.CloseStatusDescription ?? "");
    }

    private async Task PumpAsync(WebSocket from, WebSocket to, SemaphoreSlim toGate, string fromName)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult received;
                try
                {
                    // Never cancelled by a token: that would abort the socket, and its peer would get no reason.
                    received = await from.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                }
                catch (WebSocketException exception)
                {
                    VoiceProxyLog.Lost(logger, fromName, exception.Message);
                    await CloseAsync(to, toGate, WebSocketCloseStatus.EndpointUnavailable, $"the connection to {fromName} was lost");
                    return;
                }

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await CloseAsync(to, toGate, from.CloseStatus ?? WebSocketCloseStatus.Empty, from.CloseStatusDescription ?? "");
                    return;
                }

                if (!await SendAsync(to, toGate, buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage))
                {
                    // The other side is gone; its own pump tells this side why.
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<bool> SendAsync(WebSocket socket, SemaphoreSlim gate, ReadOnlyMemory<byte> payload, WebSocketMessageType type, bool endOfMessage)
    {
        await gate.WaitAsync();
        try
        {
            if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                return false;
            }

            await socket.SendAsync(payload, type, endOfMessage, CancellationToken.None);
            return true;
        }
        catch (WebSocketException)
        {
            return false;
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task CloseAsync(WebSocket socket, SemaphoreSlim gate, WebSocketCloseStatus status, string reason)
    {
        await gate.WaitAsync();
        try
        {
            if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                return;
            }

            using var timeout = new CancellationTokenSource(CloseTimeout);
            // 1005 (no status) cannot be sent: a close frame without a status has no reason either.
            await (status == WebSocketCloseStatus.Empty
                ? socket.CloseOutputAsync(WebSocketCloseStatus.Empty, null, timeout.Token)
                : socket.CloseOutputAsync(status, WebSocketCloseReasons.Truncate(reason), timeout.Token));
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task DrainAsync(WebSocket socket)
    {
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                if ((await socket.ReceiveAsync(buffer.AsMemory(), timeout.Token)).MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
    }

    public void Dispose()
    {
        _browserGate.Dispose();
        _upstreamGate.Dispose();
    }
}
