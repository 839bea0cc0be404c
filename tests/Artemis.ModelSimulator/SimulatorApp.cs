using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Artemis.ModelSimulator;

/// <summary>
/// Builds the simulator. Program.cs runs it; a test hosts it in-process:
/// <code>
/// var app = SimulatorApp.Build(["--urls=http://127.0.0.1:0"]);
/// await app.StartAsync(cancellationToken);
/// var baseAddress = SimulatorApp.BaseAddress(app);   // http://127.0.0.1:PORT/
/// // OpenAI client endpoint: new Uri(baseAddress, "v1")
/// await app.StopAsync(cancellationToken); await app.DisposeAsync();
/// </code>
/// </summary>
public static class SimulatorApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // Hosted by a test, the entry assembly is the test host's.
            ApplicationName = typeof(SimulatorApp).Assembly.GetName().Name,
        });

        builder.AddServiceDefaults();

        var options = builder.Configuration.GetSection(SimulatorOptions.Section).Get<SimulatorOptions>() ?? new SimulatorOptions();
        var (script, source) = LoadScript(options.ScriptPath, builder.Environment.ContentRootPath);

        builder.Services.Configure<SimulatorOptions>(builder.Configuration.GetSection(SimulatorOptions.Section));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new ScriptEngine(script));
        builder.Services.AddSingleton<RequestLog>();
        builder.Services.AddChatCompletions();
        builder.Services.AddRealtime();

        var app = builder.Build();

        SimulatorLog.ScriptLoaded(app.Logger, source, script.Steps.Count, script.Fallback is not null);

        app.UseWebSockets();
        app.MapDefaultEndpoints();
        app.MapChatCompletions();
        app.MapRealtime();
        app.MapSimulatorControl();
        return app;
    }

    /// <summary>The first address the started app listens on, with a trailing slash (the port is the real one).</summary>
    public static Uri BaseAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("The simulator listens on no address: start it first.");
        return new Uri(address.TrimEnd('/') + "/");
    }

    private static (SimulatorScript Script, string Source) LoadScript(string? path, string contentRoot)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return (ScriptEngine.DefaultScript, "(built-in default)");
        }

        var fullPath = Path.GetFullPath(path, contentRoot);
        if (!File.Exists(fullPath))
        {
            throw new InvalidOperationException(
                $"{SimulatorOptions.Section}:{nameof(SimulatorOptions.ScriptPath)} names '{fullPath}', which does not exist.");
        }

        return (ScriptParser.Parse(File.ReadAllText(fullPath), fullPath), fullPath);
    }
}
