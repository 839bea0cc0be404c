using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Configuration;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Voice;

return await ArtemisCommandLine.InvokeAsync(args, async args =>
{
    var builder = WebApplication.CreateBuilder(args);

    builder.AddServiceDefaults();
    builder.AddArtemisOptions();
    builder.AddPersistence();
    builder.AddMessaging();
    builder.AddCosts();
    builder.AddModels();
    builder.AddCards();
    builder.AddFiles();
    builder.AddSandbox();
    builder.AddApi();
    builder.AddVoice();

    await builder.ValidateConfigurationAsync();
    var app = builder.Build();

    app.UseVoice(); // before UseApi: the voice WebSocket also takes a browser's ticket (ADR 008)
    app.UseApi();
    app.MapDefaultEndpoints();
    app.MapHealthApi();
    app.MapConfigurationApi();
    app.MapCostsApi();
    app.MapCardsApi();
    app.MapVoiceApi();

    await app.RunAsync();
    return 0;
});
