using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Files;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Voice;

/// <summary>
/// The voice tools over <c>Artemis:Workspace:Root</c>: reads are confined to the workspace by resolving every path
/// component (symlinks included) and comparing components, never string prefixes. A stand-in for the shared
/// <c>files</c> plugin (ADR 008): it reads regular text files only and never writes.
/// </summary>
public sealed class WorkspaceVoiceTools(IOptions<WorkspaceOptions> workspace, VoiceCardRequests cards, TimeProvider time) : IVoiceTools
{
    private const int MaxEntries = 200;
    private const int BinaryProbeBytes = 8 * 1024;

    public JsonArray Definitions() =>
    [
        Tool("read_file", "Reads a text file of the workspace.", ("path", "The file's path, relative to the workspace root.")),
        Tool("list_dir", "Lists a folder of the workspace.", ("path", "The folder's path, relative to the workspace root; '.' for the root.")),
        Tool("open_file", "Shows a file of the workspace to the user, in their page.", ("path", "The file's path, relative to the workspace root.")),
        Tool("create_card", "Creates a card: a unit of software work for the agents.",
            ("title", "A short title for the work."), ("description", "What is to be done, and how to tell it is done.")),
    ];

    public async Task<VoiceToolResult> InvokeAsync(string name, string argumentsJson, VoiceToolContext context, CancellationToken cancellationToken)
    {
        JsonObject arguments;
        try
        {
            arguments = JsonNode.Parse(argumentsJson) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            return Error("the arguments are not a JSON object");
        }

        return name switch
        {
            "read_file" => await ReadAsync(arguments, show: false, cancellationToken),
            "open_file" => await ReadAsync(arguments, show: true, cancellationToken),
            "list_dir" => List(arguments),
            "create_card" => CreateCard(arguments, context),
            _ => Error($"there is no tool '{name}'"),
        };
    }

    private async Task<VoiceToolResult> ReadAsync(JsonObject arguments, bool show, CancellationToken cancellationToken)
    {
        if (!TryResolve(arguments, out var relative, out var full, out var error))
        {
            return Error(error);
        }

        var file = new FileInfo(full);
        if (Directory.Exists(full))
        {
            return Error($"'{relative}' is a folder, not a file");
        }

        if (!file.Exists)
        {
            return Error($"'{relative}' does not exist");
        }

        if (file.Length > workspace.Value.MaxFileBytes)
        {
            return Error($"'{relative}' has {file.Length} bytes, more than the {workspace.Value.MaxFileBytes} allowed");
        }

        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(full, cancellationToken);
        }
        catch (UnauthorizedAccessException)
        {
            return Error($"'{relative}' cannot be read: permission denied");
        }

        if (bytes.AsSpan(0, Math.Min(bytes.Length, BinaryProbeBytes)).Contains((byte)0))
        {
            return Error($"'{relative}' is a binary file");
        }

        var content = Encoding.UTF8.GetString(bytes);
        if (!show)
        {
            return new VoiceToolResult(Json(new JsonObject { ["path"] = relative, ["content"] = content }));
        }

        return new VoiceToolResult(
            Json(new JsonObject { ["path"] = relative, ["shown"] = true }),
            new JsonObject { ["type"] = "open_file", ["path"] = relative, ["content"] = content });
    }

    private VoiceToolResult List(JsonObject arguments)
    {
        if (!TryResolve(arguments, out var relative, out var full, out var error))
        {
            return Error(error);
        }

        if (!Directory.Exists(full))
        {
            return Error($"'{relative}' is not a folder");
        }

        var entries = new JsonArray();
        foreach (var entry in new DirectoryInfo(full).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).Take(MaxEntries))
        {
            entries.Add(new JsonObject
            {
                ["name"] = entry.Name,
                ["type"] = entry.LinkTarget is not null ? "link" : entry is DirectoryInfo ? "dir" : "file",
                ["size"] = entry is FileInfo info && entry.LinkTarget is null ? info.Length : null,
            });
        }

        return new VoiceToolResult(Json(new JsonObject { ["path"] = relative, ["entries"] = entries }));
    }

    private VoiceToolResult CreateCard(JsonObject arguments, VoiceToolContext context)
    {
        var title = (string?)(arguments["title"] as JsonValue);
        if (string.IsNullOrWhiteSpace(title))
        {
            return Error("a card needs a title");
        }

        var request = new VoiceCardRequest("voice-" + Guid.NewGuid().ToString("N")[..12], context.SessionId, title.Trim(),
            (string?)(arguments["description"] as JsonValue) ?? "", time.GetUtcNow());
        cards.Publish(request);
        return new VoiceToolResult(Json(new JsonObject { ["requested"] = true, ["requestId"] = request.Id, ["title"] = request.Title }));
    }

    /// <summary>
    /// Resolves <c>path</c> inside the workspace: refuses control characters and absolute paths, resolves every
    /// component that exists (symlinks to their final target), then requires the result's components to start
    /// with the real root's components.
    /// </summary>
    private bool TryResolve(JsonObject arguments, out string relative, out string full, out string error)
    {
        relative = (string?)(arguments["path"] as JsonValue) ?? "";
        full = "";
        error = "";
        if (string.IsNullOrWhiteSpace(workspace.Value.Root))
        {
            error = "no workspace is configured (Artemis:Workspace:Root)";
            return false;
        }

        if (relative.Length == 0 || relative.Any(char.IsControl))
        {
            error = "give a path relative to the workspace, without control characters";
            return false;
        }

        if (Path.IsPathRooted(relative))
        {
            error = $"'{relative}' is absolute: give a path relative to the workspace";
            return false;
        }

        var root = RealPath(Path.GetFullPath(workspace.Value.Root));
        full = RealPath(Path.GetFullPath(Path.Combine(root, relative)));
        if (!IsWithin(full, root))
        {
            error = $"'{relative}' is outside the workspace";
            return false;
        }

        return true;
    }

    /// <summary>The path with every existing component resolved, symlinks followed to their final target.</summary>
    private static string RealPath(string path)
    {
        var parts = path.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = Path.GetPathRoot(path) ?? "/";
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                // A dangling link resolves to where it points: still checked against the root below.
                next = target is null ? next : RealPath(target.FullName);
            }

            current = next;
        }

        return current;
    }

    private static bool IsWithin(string path, string root)
    {
        var pathParts = path.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var rootParts = root.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        return pathParts.Length >= rootParts.Length && rootParts.SequenceEqual(pathParts.Take(rootParts.Length), StringComparer.Ordinal);
    }

    private static VoiceToolResult Error(string message) => new(Json(new JsonObject { ["error"] = message }));

    private static string Json(JsonObject value) => value.ToJsonString(VoiceJson.Options);

    private static JsonObject Tool(string name, string description, params (string Name, string Description)[] parameters) => new()
    {
        ["type"] = "function",
        ["name"] = name,
        ["description"] = description,
        ["parameters"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject(parameters.Select(p =>
                KeyValuePair.Create(p.Name, (JsonNode?)new JsonObject { ["type"] = "string", ["description"] = p.Description }))),
            ["required"] = new JsonArray([.. parameters.Select(p => (JsonNode?)JsonValue.Create(p.Name))]),
        },
    };
}

internal static class VoiceJson
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
