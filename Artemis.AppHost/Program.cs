using Artemis.AppHost.Health;
using Artemis.AppHost.LocalServers;
using Artemis.AppHost.Model;
using Artemis.ServiceDefaults;

var builder = DistributedApplication.CreateBuilder(args);

// Readiness is seen when it happens, not at Aspire's next 1-5 s retry: each startup level would pay it (ADR-003).
builder.Services.AddPatientHealthChecks();

// Infrastructure: local processes in run mode (no container engine here), Aspire's containers when published.
var redis = builder.AddArtemisRedis(ResourceNames.Redis);
var database = builder.AddArtemisPostgres(ResourceNames.Postgres)
    .AddDatabase(ResourceNames.Database);

// The model: ConnectionStrings:model (any OpenAI-compatible endpoint), or the offline demo's scripted simulator.
var model = builder.AddArtemisModel(ResourceNames.Model);

var apiKey = builder.AddParameter(
    ResourceNames.AgentsApiKey,
    new GenerateParameterDefault { MinLength = 32, Special = false },
    secret: true,
    persist: true);

var agents = builder.AddProject<Projects.Artemis_Agents>(ResourceNames.Agents)
    .WithReference(redis).WaitFor(redis)
    .WithReference(database).WaitFor(database)
    .WithReference(model).WaitFor(model)
    .WithEnvironment(ResourceNames.ApiKeyEnvironmentVariable, apiKey)
    .WithEnvironment("Artemis__Workspace__Root", LocalServerPaths.WorkspaceRoot(builder))
    // The offline demo seeds its sample card on the first start of an empty database.
    .WithEnvironment("Artemis__OfflineDemo", builder.IsOfflineDemo() ? "true" : "false")
    .WithEnvironment(context =>
    {
        // The simulator's pretend speech recognition: the offline demo's Voice page shows what the user said.
        if (builder.IsOfflineDemo())
        {
            context.EnvironmentVariables["Artemis__Voice__TranscriptionModel"] = ModelBuilderExtensions.OfflineDemoTranscriptionModel;
        }
    })
    .WithHttpHealthCheck("/health")
    .WithReplicas(builder.Configuration.GetValue("Artemis:Agents:Replicas", 1));

// Web waits for agents' /health, which itself waits for the schema migration: the UI never opens on a half-made app.
builder.AddProject<Projects.Artemis_Web>(ResourceNames.Web)
    .WithReference(agents).WaitFor(agents)
    .WithEnvironment(ResourceNames.ApiKeyEnvironmentVariable, apiKey)
    .WithEnvironment("Artemis__OfflineDemo", builder.IsOfflineDemo() ? "true" : "false")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
