using Artemis.Agents;
using Artemis.Agents.Configuration;

return await ArtemisCommandLine.InvokeAsync(args, async args =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddArtemisAgents();
    await builder.ValidateConfigurationAsync();
    var app = builder.Build();
    app.MapArtemisAgents();
    await app.RunAsync();
    return 0;
});
