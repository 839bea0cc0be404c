using Artemis.Agents.Api;
using Artemis.Agents.Configuration;
using Artemis.Agents.Messaging;
using Artemis.Agents.Persistence;

return await ArtemisCommandLine.InvokeAsync(args, async args =>
{
    var builder = WebApplication.CreateBuilder(args);

    builder.AddServiceDefaults();
    builder.AddConfigurationValidation();
    builder.AddPersistence();
    builder.AddMessaging();
    builder.AddApi();

    var app = builder.Build();

    app.UseApi();
    app.MapDefaultEndpoints();
    app.MapHealthApi();
    app.MapConfigurationApi();

    await app.RunAsync();
    return 0;
});
