using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Cards;
using Artemis.Agents.Files;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;

namespace Artemis.Agents.Voice;

/// <summary>
/// The voice tools: <c>read_file</c>, <c>list_dir</c> and <c>open_file</c> are the shared <c>files</c> plugin's own
/// kernel functions (the developer agents' tools, with their confinement and their <c>{ok, error:{code, message}}</c>
/// results), rooted at <c>Artemis:Workspace:Root</c>; their descriptions and parameters are read from the plugin, so
/// the model hears of them in the same words. <c>create_card</c> queues a real card through the cards' validator and
/// store. Voice never writes files: <c>write_file</c> is not offered.
/// </summary>
public sealed class WorkspaceVoiceTools(
    WorkspaceFilesFactory files, IOptions<WorkspaceOptions> workspace, CardValidator validator, CardStore cards, ILogger<WorkspaceVoiceTools> logger)
    : IVoiceTools
{
    public const string CreateCard = "create_card";
    public const string InvalidArguments = "invalid_arguments";
    public const string InvalidCard = "invalid_card";
    public const string NoWorkspace = "no_workspace";

    /// <summary>The <c>files</c> functions a voice session offers, in this order.</summary>
    public static readonly string[] FileTools = ["read_file", "list_dir", "open_file"];

    private const string ReadFile = "read_file";
    private const string OpenFile = "open_file";

    public JsonArray Definitions()
    {
        // The plugin is made over a folder that always exists: only the functions' metadata is read here.
        var plugin = KernelPluginFactory.CreateFromObject(files.Create(Path.GetTempPath()), WorkspaceFiles.PluginName);
        var tools = new JsonArray();
        foreach (var name in FileTools)
        {
            tools.Add(Describe(plugin[name].Metadata));
        }

        tools.Add(new JsonObject
        {
            ["type"] = "function",
            ["name"] = CreateCard,
            ["description"] = "Queue a card: a unit of software work that the developer agents carry out in a copy of a workspace folder, "
                + "judged by its acceptance test command. Returns {ok, card:{id, title, stage}} or {ok:false, error:{code, message, fields}}.",
            ["parameters"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["title"] = new JsonObject { ["type"] = "string", ["description"] = "A short, one-line title for the work" },
                    ["description"] = new JsonObject { ["type"] = "string", ["description"] = "What is to be done, and how to tell it is done" },
                    ["testCommand"] = new JsonObject { ["type"] = "string", ["description"] = "The command that runs the acceptance tests in the workspace, e.g. 'python3 -m pytest -q'" },
                    ["workspace"] = new JsonObject { ["type"] = "string", ["description"] = "The folder to work on, relative to the workspace root; '.' is the root" },
                    ["budgetUsd"] = new JsonObject { ["type"] = "number", ["description"] = "Optional: at most this many US dollars for the card" },
                },
                ["required"] = new JsonArray("title", "testCommand"),
            },
        });
        return tools;
    }

    public async Task<VoiceToolResult> InvokeAsync(string name, string argumentsJson, VoiceToolContext context, CancellationToken cancellationToken)
    {
        JsonObject arguments;
        try
        {
            arguments = JsonNode.Parse(argumentsJson) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            return new(ToolResult.Error(InvalidArguments, "the arguments are not a JSON object"));
        }

        if (name == CreateCard)
        {
            return await CreateCardAsync(arguments, context, cancellationToken);
        }

        if (!FileTools.Contains(name, StringComparer.Ordinal))
        {
            return new(ToolResult.Error(InvalidArguments, $"there is no tool '{name}': use {string.Join(", ", FileTools)} or {CreateCard}"));
        }

        if (Plugin() is not { } plugin)
        {
            return new(ToolResult.Error(NoWorkspace, $"the workspace root '{workspace.Value.Root}' is not configured or does not exist (Artemis:Workspace:Root)"));
        }

        var kernelArguments = new KernelArguments();
        foreach (var (key, value) in arguments)
        {
            kernelArguments[key] = value is JsonValue text && text.TryGetValue<string>(out var s) ? s : value?.ToJsonString();
        }

        var output = await InvokeFileToolAsync(plugin, name, kernelArguments, cancellationToken);
        if (name != OpenFile || !Succeeded(output))
        {
            return new(output);
        }

        // The plugin announced the file; the page is shown its text, read through the same confined read_file.
        var read = JsonNode.Parse(await InvokeFileToolAsync(plugin, ReadFile, kernelArguments, cancellationToken))!;
        var shown = new JsonObject { ["type"] = "open_file", ["path"] = (string?)JsonNode.Parse(output)!["path"] };
        if ((bool?)read["ok"] == true)
        {
            shown["content"] = (string?)read["content"];
        }
        else
        {
            shown["error"] = (string?)read["error"]?["message"];
        }

        return new(output, shown);
    }

    private KernelPlugin? Plugin()
    {
        var root = workspace.Value.Root;
        return Path.IsPathFullyQualified(root) && Directory.Exists(root)
            ? KernelPluginFactory.CreateFromObject(files.Create(root), WorkspaceFiles.PluginName)
            : null;
    }

    private static async Task<string> InvokeFileToolAsync(KernelPlugin plugin, string name, KernelArguments arguments, CancellationToken cancellationToken)
    {
        var function = plugin[name];
        try
        {
            var result = await function.InvokeAsync(new Kernel(), arguments, cancellationToken);
            return result.GetValue<string>() ?? ToolResult.Error(ToolErrorCodes.IoError, $"{name} returned nothing");
        }
        catch (KernelException exception) when (exception.InnerException is ArgumentException)
        {
            // A required argument missing, or one that cannot be converted: the model can correct its call.
            return ToolResult.Error(InvalidArguments, exception.Message);
        }
    }

    private async Task<VoiceToolResult> CreateCardAsync(JsonObject arguments, VoiceToolContext context, CancellationToken cancellationToken)
    {
        var folder = Text(arguments, "workspace") is { Length: > 0 } given ? given : ".";
        string fullPath;
        try
        {
            var root = workspace.Value.Root;
            if (!Path.IsPathFullyQualified(root) || !Directory.Exists(root))
            {
                return new(ToolResult.Error(NoWorkspace, $"the workspace root '{root}' is not configured or does not exist (Artemis:Workspace:Root)"));
            }

            // The card's folder is confined like every file tool's path, then checked again as the API checks any card's.
            fullPath = new WorkspaceRoot(root).Resolve(folder).FullPath;
        }
        catch (ToolFailureException failure)
        {
            return new(InvalidCardJson(failure.Message, new Dictionary<string, string[]> { ["workspace"] = [failure.Message] }));
        }

        decimal? budget = null;
        if (arguments["budgetUsd"] is JsonValue usd)
        {
            if (usd.TryGetValue<decimal>(out var number))
            {
                budget = number;
            }
            else if (usd.TryGetValue<string>(out var text) && decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var parsed))
            {
                budget = parsed;
            }
            else
            {
                return new(InvalidCardJson("budgetUsd must be a number", new Dictionary<string, string[]> { ["budgetUsd"] = ["must be a number"] }));
            }
        }

        var (card, errors) = validator.Validate(new CreateCardRequest(Text(arguments, "title"), Text(arguments, "description"), fullPath, Text(arguments, "testCommand"), budget));
        if (card is null)
        {
            return new(InvalidCardJson(string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(", ", e.Value)}")), errors));
        }

        var created = await cards.CreateAsync(card, cancellationToken);
        VoiceLog.CardCreated(logger, context.SessionId, created.Id, created.Title);
        var output = new JsonObject
        {
            ["ok"] = true,
            ["card"] = new JsonObject { ["id"] = created.Id, ["title"] = created.Title, ["stage"] = created.Stage.ToString(), ["workspace"] = folder },
        };
        return new(output.ToJsonString(VoiceJson.Options),
            new JsonObject { ["type"] = "card_created", ["id"] = created.Id, ["title"] = created.Title, ["stage"] = created.Stage.ToString() });
    }

    private static string InvalidCardJson(string message, Dictionary<string, string[]> fields) => new JsonObject
    {
        ["ok"] = false,
        ["error"] = new JsonObject
        {
            ["code"] = InvalidCard,
            ["message"] = "the card was not created: " + message,
            ["fields"] = new JsonObject(fields.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)new JsonArray([.. f.Value.Select(v => (JsonNode?)v)])))),
        },
    }.ToJsonString(VoiceJson.Options);

    private static string? Text(JsonObject arguments, string name) =>
        arguments[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static bool Succeeded(string output) => JsonNode.Parse(output) is JsonObject result && (bool?)result["ok"] == true;

    /// <summary>A kernel function in the realtime session's tool shape, from the same metadata the agents' kernels send.</summary>
    private static JsonObject Describe(KernelFunctionMetadata function)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var parameter in function.Parameters)
        {
            var schema = parameter.Schema is { } s ? JsonNode.Parse(s.RootElement.GetRawText())!.AsObject() : new JsonObject { ["type"] = "string" };
            if (!string.IsNullOrEmpty(parameter.Description))
            {
                schema["description"] = parameter.Description;
            }

            properties[parameter.Name] = schema;
            if (parameter.IsRequired)
            {
                required.Add(parameter.Name);
            }
        }

        return new JsonObject
        {
            ["type"] = "function",
            ["name"] = function.Name,
            ["description"] = function.Description,
            ["parameters"] = new JsonObject { ["type"] = "object", ["properties"] = properties, ["required"] = required },
        };
    }
}

internal static class VoiceJson
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
