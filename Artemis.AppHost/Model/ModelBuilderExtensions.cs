using Artemis.ServiceDefaults;

namespace Artemis.AppHost.Model;

/// <summary>
/// The model the agents call. With <c>ConnectionStrings:model</c> configured for the AppHost (OpenAI, Azure OpenAI,
/// Ollama, vLLM: <c>Endpoint=…/v1;Key=…;Model=…</c>) that endpoint; without it, the offline demo: the scripted
/// model simulator (<c>model-simulator</c>), which speaks the same wire protocol on loopback. Published, the model is
/// always a connection string the deployment supplies.
/// </summary>
public static class ModelBuilderExtensions
{
    public const string SimulatorSuffix = "-simulator";

    /// <summary>The key the offline demo's simulator requires: the real client sends it, as it would to OpenAI.</summary>
    public const string OfflineDemoKey = "sk-artemis-offline-demo";

    public const string OfflineDemoModel = "gpt-4o-mini";
    public const string OfflineDemoRealtimeModel = "gpt-realtime-mini";

    /// <summary>
    /// Turns on the input transcription the simulator fakes (its script says what it hears), so the Voice page shows
    /// the user's words in the offline demo. With a real model it stays off unless configured: it is billed apart.
    /// </summary>
    public const string OfflineDemoTranscriptionModel = "gpt-4o-mini-transcribe";

    /// <summary>
    /// The offline demo's script, in the simulator project (whose tests load the same file): it plans and solves the
    /// sample card with two developers, one right and one gaming the tests, and answers the Voice page.
    /// </summary>
    public static string OfflineDemoScript() =>
        Path.Combine(Path.GetDirectoryName(new Projects.Artemis_ModelSimulator().ProjectPath)!, "Scripts", "offline-demo.json");

    public static bool IsOfflineDemo(this IDistributedApplicationBuilder builder, string name = ResourceNames.Model) =>
        builder.ExecutionContext.IsRunMode && string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(name));

    public static IResourceBuilder<IResourceWithConnectionString> AddArtemisModel(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        if (!builder.IsOfflineDemo(name))
        {
            return builder.AddConnectionString(name);
        }

        var simulator = builder.AddProject<Projects.Artemis_ModelSimulator>(name + SimulatorSuffix)
            .WithEnvironment("Simulator__ApiKey", OfflineDemoKey)
            .WithEnvironment("Simulator__ScriptPath", OfflineDemoScript())
            .WithHttpHealthCheck("/health");
        var endpoint = simulator.GetEndpoint("http");
        return builder.AddConnectionString(name, ReferenceExpression.Create(
                $"Endpoint={endpoint}/v1;Key={OfflineDemoKey};Model={OfflineDemoModel};RealtimeModel={OfflineDemoRealtimeModel}"))
            // The connection string is usable once the simulator answers, not merely once it has started.
            .WaitFor(simulator);
    }
}
