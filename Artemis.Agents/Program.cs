using Artemis.Agents.Api;
using Artemis.Agents.Messaging;
using Artemis.Agents.Persistence;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddPersistence();
builder.AddMessaging();
builder.AddApi();

var app = builder.Build();

app.UseApi();
app.MapDefaultEndpoints();
app.MapHealthApi();

app.Run();
