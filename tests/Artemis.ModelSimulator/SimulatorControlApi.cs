namespace Artemis.ModelSimulator;

/// <summary>
/// The test-facing control endpoints under <c>/_sim</c>: the request log and the active script. They need no API
/// key: they are how a test arranges and checks the simulator.
/// </summary>
public static class SimulatorControlApi
{
    public const string RequestsPath = "/_sim/requests";
    public const string ScriptPath = "/_sim/script";

    public static IEndpointRouteBuilder MapSimulatorControl(this IEndpointRouteBuilder app)
    {
        app.MapGet(RequestsPath, (RequestLog log) => Results.Json(log.Snapshot(), RequestLog.Json));
        app.MapDelete(RequestsPath, (RequestLog log) =>
        {
            log.Clear();
            return Results.NoContent();
        });
        app.MapGet(ScriptPath, (ScriptEngine engine) => Results.Json(engine.Current, ScriptParser.Options));
        app.MapPut(ScriptPath, ReplaceScriptAsync);
        return app;
    }

    private static async Task<IResult> ReplaceScriptAsync(HttpRequest request, ScriptEngine engine, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(request.Body);
        var json = await reader.ReadToEndAsync(cancellationToken);
        var logger = loggers.CreateLogger(typeof(SimulatorControlApi).FullName!);
        if (!ScriptParser.TryParse(json, out var script, out var error))
        {
            SimulatorLog.ScriptRejected(logger, error!);
            return Results.Json(new ErrorResponse(new ErrorBody(error!, "invalid_request_error", "script", "invalid_script")),
                WireJson.Options, statusCode: StatusCodes.Status400BadRequest);
        }

        engine.Replace(script!);
        SimulatorLog.ScriptLoaded(logger, ScriptPath, script!.Steps.Count, script.Fallback is not null);
        return Results.Json(script, ScriptParser.Options);
    }
}
