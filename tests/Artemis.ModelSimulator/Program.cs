using Artemis.ModelSimulator;

// A scripted OpenAI-compatible model for tests and the offline demo: README.md describes the scripts.
var app = SimulatorApp.Build(args);
app.Run();
