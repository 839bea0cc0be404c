using System.Diagnostics;
using System.Text.Json.Nodes;
using Artemis.ServiceDefaults;
using NJsonSchema;

namespace Artemis.AppHost.Tests.Manifest;

/// <summary>
/// Publishing with Aspire's own manifest publisher, exactly as azd does: the infrastructure becomes Aspire's container
/// resources (never our local executables), the secrets are secret parameters, and the manifest matches the schema.
/// </summary>
public sealed class ManifestTests : IClassFixture<ManifestTests.PublishedManifest>
{
    private readonly PublishedManifest _published;

    public ManifestTests(PublishedManifest published) => _published = published;

    private JsonObject Resources => _published.Manifest["resources"]!.AsObject();

    private string TypeOf(string resource) => Resources[resource]?["type"]?.GetValue<string>()
        ?? throw new Xunit.Sdk.XunitException($"the manifest has no resource '{resource}': {string.Join(", ", Resources.Select(r => r.Key))}");

    [Fact]
    public async Task Manifest_is_valid_against_the_aspire_schema()
    {
        var errors = (await LoadSchemaAsync()).Validate(_published.Json);
        Assert.True(errors.Count == 0, string.Join('\n', errors.Select(error => error.ToString())));
    }

    [Fact]
    public async Task Schema_check_catches_a_broken_resource()
    {
        var broken = JsonNode.Parse(_published.Json)!;
        broken["resources"]![ResourceNames.Redis]!.AsObject().Remove("image");
        broken["resources"]![ResourceNames.Agents]!.AsObject().Remove("path");

        var errors = (await LoadSchemaAsync()).Validate(broken.ToJsonString());

        Assert.Contains(errors, error => error.Path == $"#/resources.{ResourceNames.Redis}");
        Assert.Contains(errors, error => error.Path == $"#/resources.{ResourceNames.Agents}");
    }

    private static async Task<JsonSchema> LoadSchemaAsync()
    {
        var schemaJson = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Manifest", "aspire-manifest.schema.json"));
        return await JsonSchema.FromJsonAsync(InDraft4Terms(schemaJson));
    }

    [Fact]
    public void Infrastructure_is_published_as_containers_and_the_database_as_a_value()
    {
        Assert.Equal("container.v0", TypeOf(ResourceNames.Redis));
        Assert.Equal("container.v0", TypeOf(ResourceNames.Postgres));
        Assert.Equal("value.v0", TypeOf(ResourceNames.Database));
        Assert.StartsWith("{postgres.connectionString}", Resources[ResourceNames.Database]!["connectionString"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Passwords_and_the_api_key_are_secret_parameters()
    {
        foreach (var name in new[] { $"{ResourceNames.Redis}-password", $"{ResourceNames.Postgres}-password", ResourceNames.AgentsApiKey, ResourceNames.Model })
        {
            Assert.Equal("parameter.v0", TypeOf(name));
            Assert.True(Resources[name]!["inputs"]!["value"]!["secret"]!.GetValue<bool>(), $"{name} must be secret");
        }
    }

    [Fact]
    public void Services_are_projects_and_only_web_is_external()
    {
        Assert.Equal("project.v0", TypeOf(ResourceNames.Agents));
        Assert.Equal("project.v0", TypeOf(ResourceNames.Web));
        Assert.All(Bindings(ResourceNames.Agents), binding => Assert.False(binding["external"]?.GetValue<bool>() ?? false));
        Assert.Contains(Bindings(ResourceNames.Web), binding => binding["external"]?.GetValue<bool>() ?? false);
        Assert.Equal($"{{{ResourceNames.AgentsApiKey}.value}}", Resources[ResourceNames.Agents]!["env"]![ResourceNames.ApiKeyEnvironmentVariable]!.GetValue<string>());
    }

    [Fact]
    public void Model_is_a_connection_string_the_deployment_supplies_never_the_simulator()
    {
        Assert.Equal("{model.value}", Resources[ResourceNames.Model]!["connectionString"]!.GetValue<string>());
        Assert.DoesNotContain(Resources, resource => resource.Key.Contains("simulator", StringComparison.Ordinal));
        Assert.Equal("{model.connectionString}", Resources[ResourceNames.Agents]!["env"]!["ConnectionStrings__model"]!.GetValue<string>());
    }

    [Fact]
    public void Nothing_is_published_as_a_local_executable()
    {
        Assert.DoesNotContain(Resources, resource => resource.Value!["type"]!.GetValue<string>() == "executable.v0");
    }

    /// <summary>
    /// Aspire's schema is draft 7; NJsonSchema reads boolean subschemas (<c>"build": false</c>) as an error and ignores
    /// <c>const</c>, which makes every <c>oneOf</c> branch match. Both have exact draft-4 spellings: <c>{"not": {}}</c>
    /// for false, <c>{}</c> for true, and <c>"enum": [x]</c> for <c>"const": x</c>.
    /// </summary>
    private static string InDraft4Terms(string schemaJson)
    {
        var root = JsonNode.Parse(schemaJson)!;
        Rewrite(root);
        return root.ToJsonString();

        static void Rewrite(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj:
                    if (obj["const"] is { } constant)
                    {
                        obj.Remove("const");
                        obj["enum"] = new JsonArray(constant.DeepClone());
                    }

                    if (obj["properties"] is JsonObject properties)
                    {
                        foreach (var name in properties.Select(property => property.Key).ToList())
                        {
                            if (properties[name] is JsonValue value && value.TryGetValue<bool>(out var allowed))
                            {
                                properties[name] = allowed ? new JsonObject() : new JsonObject { ["not"] = new JsonObject() };
                            }
                        }
                    }

                    foreach (var child in obj.Select(pair => pair.Value).ToList())
                    {
                        Rewrite(child);
                    }

                    break;
                case JsonArray array:
                    foreach (var child in array.ToList())
                    {
                        Rewrite(child);
                    }

                    break;
            }
        }
    }

    private IEnumerable<JsonNode> Bindings(string resource) =>
        Resources[resource]!["bindings"]!.AsObject().Select(binding => binding.Value!);

    public sealed class PublishedManifest : IAsyncLifetime
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("artemis-manifest-").FullName;

        public string Json { get; private set; } = "";

        public JsonNode Manifest { get; private set; } = new JsonObject();

        public async Task InitializeAsync()
        {
            var path = Path.Combine(_directory, "manifest.json");
            var startInfo = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = RepositoryPaths.Root,
            };
            foreach (var argument in new[] { "run", "--no-build", "--project", RepositoryPaths.AppHostProject, "--", "--publisher", "manifest", "--output-path", path })
            {
                startInfo.ArgumentList.Add(argument);
            }

            using var process = Process.Start(startInfo)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"publishing failed ({process.ExitCode}):\n{await output}\n{await errors}");

            Json = await File.ReadAllTextAsync(path);
            Manifest = JsonNode.Parse(Json)!;
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_directory, recursive: true);
            return Task.CompletedTask;
        }
    }
}
