using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Configuration;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Supervision;
using Artemis.Agents.Voice;

namespace Artemis.Agents;

/// <summary>The whole Agents service, composed once: for Program and for tests that host it (replicas included).</summary>
public static class AgentsApplication
{
    /// <summary>Every feature's services, ServiceDefaults first, then the validated options.</summary>
    public static WebApplicationBuilder AddArtemisAgents(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        builder.AddArtemisOptions();
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCosts();
        builder.AddModels();
        builder.AddCards();
        builder.AddFiles();
        builder.AddSandbox();
        builder.AddSupervision();
        builder.AddApi();
        builder.AddVoice();
        return builder;
    }

    /// <summary>The middleware and every endpoint.</summary>
    public static WebApplication MapArtemisAgents(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseVoice(); // before UseApi: the voice WebSocket also takes a browser's ticket (ADR 008)
        app.UseApi();
        app.MapDefaultEndpoints();
        app.MapHealthApi();
        app.MapConfigurationApi();
        app.MapCostsApi();
        app.MapCardsApi();
        app.MapSupervisorApi();
        app.MapVoiceApi();
        return app;
    }
}
