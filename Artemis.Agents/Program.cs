using Artemis.Agents.Api;
using Artemis.Agents.Configuration;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Sandbox;

return await ArtemisCommandLine.InvokeAsync(args, async args =>
{
    var builder = WebApplication.CreateBuilder(args);

    builder.AddServiceDefaults();
    builder.AddArtemisOptions();
    builder.AddPersistence();
    builder.AddMessaging();
    builder.AddCosts();
    builder.AddModels();
    builder.AddFiles();
    builder.AddSandbox();
    builder.AddApi();

    await builder.ValidateConfigurationAsync();
    var app = builder.Build();

    app.UseApi();
    app.MapDefaultEndpoints();
    app.MapHealthApi();
    app.MapConfigurationApi();
    app.MapCostsApi();

    await app.RunAsync();
    return 0;
});
